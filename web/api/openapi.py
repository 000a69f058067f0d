"""The OpenAPI 3.1 document, derived from the contract (``web/api/models.py``) by spectree.

spectree reads each operation's models, path, summary (the view's docstring)
and security from ``@operation`` (``web/api/views.py``); :func:`document`
adds once, for every operation alike, what JSON Schema cannot say: the path
parameters' patterns (from the path models), the problem answers by status
(``components/responses``), the ``ETag`` and ``Idempotency-Replayed`` headers
and the 304.  Nothing here is written per operation.
"""

from __future__ import annotations

from typing import Any

from spectree import SpecTree

from web.api.models import TAGS, OpenApiDocument, Problem
from workflow.api_tokens import SCOPES

API_DESCRIPTION = """\
The e-office systems of the province and the organizer's own scripts read and write evaluation campaigns here,
with the same operations, checks and audit trail as the web pages and the command line.

**Tokens.** Send `Authorization: Bearer hc_<prefix>_<secret>`. The organizer creates tokens with
`flask token create --organizer TGG [--unit STC] --scope read --scope record --name "VNPT iOffice"`; a token is
shown once, stored hashed (SHA-256), and refused from the next request on once revoked (`flask token revoke`).
Scopes: `read` (campaigns, timelines, statuses, working days, criteria sets, sheets, results), `record` (record a
dossier received through e-office or e-mail; a unit's token: fill and submit its sheet, attach evidence, answer about
its figures), `manage` (mark a step done, move a milestone, return a dossier, reinstate a unit, verify a sheet, send
figures for confirmation; next year's campaign, award proposals, the decision and publication, milestone documents,
letters). A unit's token sees and writes only its own unit, and cannot `manage`; anything else answers 404, as if it
did not exist.

**Errors** are `application/problem+json` with `detail` (English), `detail_vi` (Vietnamese) and `field`, the field
at fault. Bad input is a 4xx: 400 (not JSON), 401, 403, 404, 409 (refused by the rules), 415, 422 (invalid field).

**Idempotency.** Every write accepts an `Idempotency-Key` header: a retry with the same key and body returns the
first answer (header `Idempotency-Replayed: true`) and records nothing twice.

**Polling.** Lists page with `limit` and an opaque `cursor` (`next_cursor`, null on the last page). Every GET
answer carries an `ETag`; send it back in `If-None-Match` and an unchanged answer is a bodiless 304.

**Time.** Instants are ISO 8601 with their offset (`2019-10-25T16:30:00+07:00`); answers use the organizer's time
zone (Asia/Ho_Chi_Minh). A deadline date ends at 24:00 local time; working days follow the Vietnamese calendar plus
the organizer's local days off.
"""

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "hc_<prefix>_<secret>",
          "description": "Scopes (named in each operation's security requirement): "
                         + "; ".join(f"`{k}`: {en}" for k, (vi, en) in SCOPES.items()) + "."}

spec = SpecTree(
    "flask", mode="strict", title="Hạn Chót API", version="1.0.0", description=API_DESCRIPTION,
    page_templates={}, annotations=False, validation_error_model=Problem,
    security={"bearerAuth": []},
    naming_strategy=lambda model: model.__name__, nested_naming_strategy=lambda _parent, child: child)

#: The problem answers, by status: each operation refers to these.
PROBLEMS = {
    400: ("BadRequest", "The body is not valid JSON."),
    401: ("Unauthorized", "No token, a malformed token, an unknown one or a revoked one."),
    403: ("Forbidden", "The token lacks the scope, or is a unit's token for an organizer's action."),
    404: ("NotFound", "Unknown, another organizer's, or (for a unit's token) another unit's: never told apart."),
    409: ("Conflict", "Refused by the rules as things stand (e.g. the campaign is not accepting dossiers, the unit "
                      "is excluded, the step is not due)."),
    413: ("PayloadTooLarge", "The request is larger than the server accepts (MAX_UPLOAD_MB)."),
    415: ("UnsupportedMediaType", "The body is not sent as application/json."),
    422: ("Unprocessable", "A field, parameter or header is invalid; `field` names it."),
    503: ("Unavailable", "A document could not be stored (disk full); nothing was recorded."),
}
STR = {"type": "string"}
ETAG = {"ETag": {"schema": STR, "required": True, "description": "Send it back in If-None-Match to poll."}}
REPLAYED = {"Idempotency-Replayed": {"schema": {"type": "string", "enum": ["true"]}, "required": False,
                                     "description": "Present when the answer is the stored one of a retry."}}

#: What ``@operation`` tells about each operation beyond spectree's arguments, by operationId.
OPERATIONS: dict[str, dict[str, Any]] = {}


def describe(operation_id: str, *, path_model: Any, write: bool, public: bool, binary: str | None = None) -> None:
    OPERATIONS[operation_id] = {"path_model": path_model, "write": write, "public": public, "binary": binary}


def _responses() -> dict:
    out: dict[str, Any] = {}
    for name, description in PROBLEMS.values():
        out[name] = {"description": description,
                     "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    out["Unauthorized"]["headers"] = {"WWW-Authenticate": {"schema": STR, "required": True}}
    out["NotModified"] = {"description": "Unchanged since the ETag given in If-None-Match.",
                          "headers": {"ETag": {"schema": STR, "required": True}}}
    return out


def _strip_titles(node: Any) -> Any:
    """pydantic titles every schema after its Python name; the document's names are the fields' own."""
    if isinstance(node, dict):
        return {k: (v if k in ("example", "examples", "default", "enum", "const") else _strip_titles(v))
                for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _parameters(op: dict, path_model: Any) -> list[dict]:
    """The path parameters stated by the path model (pattern, enum, example), then query and header ones."""
    params = []
    path_schema = _strip_titles(path_model.model_json_schema()) if path_model else {"properties": {}}
    for param in op.get("parameters", []):
        param = dict(param)
        if param["in"] == "path" and param["name"] in path_schema["properties"]:
            schema = dict(path_schema["properties"][param["name"]])
            param["description"] = schema.pop("description", param.get("description", ""))
            param["schema"] = schema
        schema = param.get("schema") or {}
        if "examples" in schema:
            param["example"] = schema["examples"][0]
        if "default" in schema and param["in"] == "header":
            del schema["default"]
        params.append(param)
    return params


def _resolve(doc: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _in_field_order(doc: dict, schema: Any, value: Any, depth: int = 0) -> Any:
    """An example with its keys in the order of the fields (pydantic sorts them), nested objects too."""
    schema = _resolve(doc, schema)
    if depth > 8 or not isinstance(schema, dict):
        return value
    for alt in schema.get("anyOf", []):
        if "$ref" in alt or "properties" in alt:
            schema = _resolve(doc, alt)
    if isinstance(value, list) and "items" in schema:
        return [_in_field_order(doc, schema["items"], v, depth + 1) for v in value]
    if not isinstance(value, dict) or "properties" not in schema:
        return value
    props = schema["properties"]
    return {k: _in_field_order(doc, props.get(k), value[k], depth + 1)
            for k in sorted(value, key=lambda k: list(props).index(k) if k in props else len(props))}


def _finish(doc: dict) -> dict:
    doc["info"]["license"] = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}
    doc["tags"] = [{"name": t.name, "description": t.description} for t in TAGS]
    for methods in doc["paths"].values():
        for method, op in methods.items():
            meta = OPERATIONS[op["operationId"]]
            op["parameters"] = _parameters(op, meta["path_model"])
            responses = {}
            for code, answer in op["responses"].items():
                if int(code) >= 400:
                    responses[code] = {"$ref": "#/components/responses/" + PROBLEMS[int(code)][0]}
                else:
                    answer = dict(answer)
                    answer["headers"] = REPLAYED if meta["write"] else ETAG
                    if meta["binary"]:
                        answer["content"] = {meta["binary"]: {"schema": {"type": "string",
                                                                         "contentMediaType": meta["binary"]}}}
                        answer["headers"] = {**answer["headers"], "Content-Disposition": {
                            "schema": STR, "required": True, "description": "attachment; filename=\"…\""}}
                    if answer.get("description") in ("OK", "Created"):
                        answer["description"] = {"OK": "Done", "Created": "Recorded"}[answer["description"]] \
                            if meta["write"] else "OK"
                    responses[code] = answer
            if method == "get":
                responses["304"] = {"$ref": "#/components/responses/NotModified"}
            if not meta["public"]:
                responses.setdefault("401", {"$ref": "#/components/responses/Unauthorized"})
            op["responses"] = dict(sorted(responses.items()))
    doc["components"]["responses"] = _responses()
    doc["components"]["securitySchemes"] = {"bearerAuth": BEARER}
    doc["components"]["schemas"] = {name: schema for name, schema in doc["components"]["schemas"].items()
                                    if not name.endswith(("Query", "Headers", "Path"))}
    doc["components"]["schemas"]["OpenApiDocument"] = {"type": "object", "required": ["openapi", "paths"]}
    for schema in doc["components"]["schemas"].values():
        if "example" in schema:
            schema["example"] = _in_field_order(doc, schema, schema["example"])
    doc["paths"] = _strip_titles(doc["paths"])
    doc["components"]["schemas"] = _strip_titles(doc["components"]["schemas"])
    return doc


_DOCUMENT: dict | None = None


def document() -> dict:
    """The OpenAPI document of the app's operations (built once, in an app context)."""
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = _finish(spec.spec)
    return _DOCUMENT


__all__ = ["OpenApiDocument", "describe", "document", "spec"]

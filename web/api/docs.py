"""The local documentation page (``/api/v1/docs``): the OpenAPI document rendered as HTML, nothing from elsewhere."""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape


def _resolve(doc: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _ref_name(node: dict) -> str | None:
    ref = node.get("$ref") if isinstance(node, dict) else None
    return ref.rsplit("/", 1)[-1] if ref else None


def describe_schema(doc: dict, node: dict):
    """A schema in a few words, as safe HTML: ``string (date-time) or null``, ``integer, 1–200, default 50``;
    a named schema is a link to its description."""
    name = _ref_name(node)
    if name:
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    if "anyOf" in node and any(n.get("type") == "null" for n in node["anyOf"]):
        others = [describe_schema(doc, n) for n in node["anyOf"] if n.get("type") != "null"]
        return Markup(" or ").join(others) + " or null"
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    main = [k for k in kinds if k != "null"]
    text = escape(" or ".join(main) or "null")
    if "array" in main and "items" in node:
        text = Markup("array of ") + describe_schema(doc, node["items"])
    if node.get("format"):
        text += f" ({node['format']})"
    if node.get("contentEncoding"):
        text += f" ({node['contentEncoding']})"
    notes = []
    if "enum" in node:
        notes.append("one of: " + ", ".join(str(v) for v in node["enum"]))
    if "minimum" in node and "maximum" in node:
        notes.append(f"{node['minimum']}–{node['maximum']}")
    elif "minimum" in node:
        notes.append(f"≥ {node['minimum']}")
    elif "maximum" in node:
        notes.append(f"≤ {node['maximum']}")
    if "minLength" in node or "maxLength" in node:
        notes.append(f"{node.get('minLength', 0)}–{node.get('maxLength', '…')} characters")
    if "maxItems" in node:
        notes.append(f"at most {node['maxItems']} items")
    if "pattern" in node:
        notes.append(f"pattern {node['pattern']}")
    if "default" in node:
        notes.append(f"default {json.dumps(node['default'])}")
    if "null" in kinds:
        notes.append("or null")
    return Markup(", ").join([text, *notes])


def schema_rows(doc: dict, node: dict, prefix: str = "", expand: bool = False, depth: int = 0) -> list[dict]:
    """One row per field of an object schema; nested objects (and, with ``expand``, references) flattened."""
    node = _resolve(doc, node)
    rows = []
    required = set(node.get("required", []))
    for key, prop in node.get("properties", {}).items():
        name = f"{prefix}{key}"
        target = _resolve(doc, prop)
        text = target.get("description", "") if "$ref" in prop else prop.get("description", "")
        rows.append({"name": name, "type": describe_schema(doc, prop), "required": key in required,
                     "description": inline_markdown(text)})
        if depth > 3:
            continue
        if target.get("type") == "object" and target.get("properties") and (expand or "$ref" not in prop):
            rows += schema_rows(doc, target, f"{name}.", expand, depth + 1)
        items = target.get("items")
        if target.get("type") == "array" and isinstance(items, dict):
            inner = _resolve(doc, items)
            if inner.get("properties") and (expand or "$ref" not in items):
                rows += schema_rows(doc, inner, f"{name}[].", expand, depth + 1)
    return rows


def alternatives(doc: dict, node: dict) -> Markup:
    """What an ``anyOf`` of required fields says, in words: "Each DocumentIn needs `sha256` or `content_base64`"."""
    def walk(node: dict, depth: int) -> list[str]:
        name, node = _ref_name(node), _resolve(doc, node)
        lines = []
        choices = [alt["required"] for alt in node.get("anyOf", []) if set(alt) == {"required"}]
        if choices:
            needs = " or ".join("`" + "` and `".join(fields) + "`" for fields in choices)
            lines.append(f"Each {name or 'body'} needs {needs} (or both).")
        for prop in node.get("properties", {}).values() if depth < 3 else ():
            target = _resolve(doc, prop)
            inner = target.get("items") if target.get("type") == "array" else prop
            if isinstance(inner, dict):
                lines += walk(inner, depth + 1)
        return lines
    return inline_markdown(" ".join(dict.fromkeys(walk(node, 0))))


def _curl(method: str, path: str, op: dict, doc: dict, body_example: Any) -> str:
    url = path
    query = []
    for param in (_resolve(doc, p) for p in op.get("parameters", [])):
        example = param.get("example")
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(example if example is not None else "…"))
        elif param["in"] == "query" and param.get("required"):
            query.append(f"{param['name']}={example}")
    if query:
        url += "?" + "&".join(query)
    lines = ["curl -sS" + (f" -X {method.upper()}" if method != "get" else "")]
    if op.get("security", doc.get("security")):
        lines.append('  -H "Authorization: Bearer $HANCHOT_TOKEN"')
    if body_example is not None:
        lines.append('  -H "Content-Type: application/json"')
        lines.append('  -H "Idempotency-Key: $(uuidgen)"')
        payload = json.dumps(body_example, ensure_ascii=False, indent=2).replace("'", "'\\''")
        lines.append(f"  --data '{payload}'")
    lines.append(f'  "$HANCHOT_URL{url}"')
    return " \\\n".join(lines)


def inline_markdown(text: str):
    """``code`` and **bold** of a description, as safe HTML; everything else escaped."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
    return Markup(html)


def docs_model(doc: dict) -> dict:
    """What templates/api/docs.html shows, read from the OpenAPI document itself."""
    schemes = doc["components"]["securitySchemes"]
    sections = []
    for tag in doc["tags"]:
        operations = []
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                if tag["name"] not in op.get("tags", []):
                    continue
                security = op.get("security", doc.get("security", []))
                scopes = sorted({s for req in security for scheme in req for s in req[scheme]})
                params = []
                for p in op.get("parameters", []):
                    param = _resolve(doc, p)
                    params.append({"name": param["name"], "in": param["in"], "required": param.get("required", False),
                                   "type": describe_schema(doc, param.get("schema", {})),
                                   "description": inline_markdown(param.get("description", "")),
                                   "example": param.get("example")})
                body = None
                body_example = None
                if "requestBody" in op:
                    media = op["requestBody"]["content"]["application/json"]["schema"]
                    body_schema = _resolve(doc, media)
                    body_example = body_schema.get("example")
                    body = {"schema": _ref_name(media), "rows": schema_rows(doc, media, expand=True),
                            "example": json.dumps(body_example, ensure_ascii=False, indent=2)
                            if body_example is not None else None,
                            "notes": alternatives(doc, media)}
                responses = []
                for code, resp in sorted(op["responses"].items()):
                    resp_ref = _ref_name(resp)
                    resp = _resolve(doc, resp)
                    content = resp.get("content", {})
                    media_type = next(iter(content), None)
                    schema = content[media_type]["schema"] if media_type else None
                    responses.append({"code": code, "description": inline_markdown(resp.get("description", "")),
                                      "media_type": media_type, "schema": _ref_name(schema) if schema else None,
                                      "headers": list(resp.get("headers", {})), "ref": resp_ref})
                operations.append({
                    "id": op["operationId"], "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                    "description": inline_markdown(op.get("description", "")), "public": not security,
                    "scopes": scopes,
                    "parameters": params, "body": body, "responses": responses,
                    "curl": _curl(method, path, op, doc, body_example),
                })
        sections.append({"name": tag["name"], "description": tag.get("description", ""), "operations": operations})
    schemas = []
    for name, schema in doc["components"]["schemas"].items():
        if name == "OpenApiDocument":
            continue
        example = schema.get("example")
        schemas.append({"name": name, "description": schema.get("description", ""),
                        "rows": schema_rows(doc, schema),
                        "example": json.dumps(example, ensure_ascii=False, indent=2) if example is not None else None})
    return {"title": doc["info"]["title"], "version": doc["info"]["version"], "openapi": doc["openapi"],
            "intro": [inline_markdown(p.replace("\n", " ")) for p in doc["info"]["description"].strip().split("\n\n")],
            "security": {**schemes["bearerAuth"], "description": inline_markdown(schemes["bearerAuth"]["description"])},
            "sections": sections, "schemas": schemas}

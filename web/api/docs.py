"""The local documentation page (``/api/v1/docs``): the OpenAPI document rendered as HTML, nothing from elsewhere.

The page follows the UI language (Flask-Babel, Vietnamese first): its headings, the words of the schema
descriptions, the introduction, the sections and each operation's summary.  Those summaries and the
introduction are Vietnamese msgids whose English is the OpenAPI document's own text (tests/test_api_docs.py
checks they agree).  The OpenAPI document itself, and the descriptions of fields, parameters and answers
that the page reads from it, stay English.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from web.common import gettext as _
from web.common import lang
from workflow.api_tokens import SCOPES

#: Each operation's summary in the page's language (the English is the OpenAPI summary).
SUMMARIES = {
    "getOpenApi": _l("Tài liệu OpenAPI này (công khai)"),
    "getToken": _l("Khóa đang dùng: cơ quan tổ chức, đơn vị và phạm vi quyền của nó"),
    "listCampaigns": _l("Các đợt đánh giá của cơ quan tổ chức sở hữu khóa"),
    "getCampaign": _l("Một đợt đánh giá: trạng thái hiện tại và các thời điểm được tính"),
    "getTimeline": _l("Tiến độ: thời điểm của từng mốc, và cách tính"),
    "listUnits": _l("Các đơn vị và tình trạng của chúng"),
    "getUnit": _l("Tình trạng của một đơn vị và các lần gửi hồ sơ"),
    "getMyStatus": _l("Tình trạng của chính đơn vị sở hữu khóa"),
    "addWorkdays": _l("Ngày cuối của một khoảng N ngày (làm việc) tính từ một ngày"),
    "isWorkingDay": _l("Một ngày có phải ngày làm việc không, và vì sao"),
    "recordSubmission": _l("Ghi nhận hồ sơ: nhận qua phần mềm quản lý văn bản hoặc thư điện tử (khóa của cơ quan "
                           "tổ chức), hoặc đơn vị nộp trực tuyến (khóa của đơn vị)"),
    "markStep": _l("Đánh dấu hoàn thành một bước, phát động hoặc hủy"),
    "moveMilestone": _l("Dời hạn nộp hoặc một mốc tiếp theo, có lý do"),
    "returnDossier": _l("Trả lại hồ sơ để chỉnh sửa, có lý do"),
    "reinstateUnit": _l("Khôi phục một đơn vị đã bị loại, có lý do bằng văn bản"),
    "getCriteria": _l("Các bộ tiêu chí của đợt: phần, tiêu chí, tiêu chí thành phần"),
    "getSheet": _l("Bảng điểm của một đơn vị: giá trị, điểm, điểm từng phần, thẩm định, xác nhận số liệu"),
    "getResults": _l("Kết quả theo khối: điểm từng phần, tổng điểm, xếp loại và thứ hạng"),
    "saveSheetDraft": _l("Lưu bản nháp bảng điểm (khóa của đơn vị)"),
    "submitSheet": _l("Nộp bảng điểm: đây chính là nộp hồ sơ (khóa của đơn vị)"),
    "attachEvidence": _l("Đính kèm tệp minh chứng cho một tiêu chí loại “tệp” (khóa của đơn vị)"),
    "removeEvidence": _l("Gỡ một tệp minh chứng (khóa của đơn vị)"),
    "answerFigures": _l("Xác nhận hoặc không đồng ý với số liệu đã thẩm định, từng tiêu chí (khóa của đơn vị)"),
    "verifyCriterion": _l("Thẩm định một tiêu chí: giá trị hoặc điểm thẩm định, kèm ghi chú"),
    "sendFigures": _l("Gửi số liệu đã thẩm định để đơn vị xác nhận trong N ngày làm việc"),
    "sendFiguresToAll": _l("Gửi số liệu đã thẩm định cho mọi đơn vị đã nộp bảng điểm"),
    "previewClone": _l("Xem trước đợt năm sau: từng ngày được dời, các cảnh báo, các đơn vị, bộ tiêu chí được sao chép"),
    "cloneCampaign": _l("Tạo đợt năm sau từ đợt này, ở dạng nháp và liên kết với đợt này"),
    "getAwardStep": _l("Bước khen thưởng: bảng xếp hạng với các đơn vị được đề nghị, hồ sơ khen thưởng, quyết định"),
    "proposeAwards": _l("Đánh dấu các đơn vị được đề nghị khen thưởng; mỗi đơn vị mới được gửi thông báo"),
    "listAwardDossiers": _l("Các hồ sơ đề nghị khen thưởng đã nhận, theo đơn vị và lần gửi"),
    "recordDecision": _l("Ghi nhận quyết định phê duyệt kết quả của UBND tỉnh: số, ngày, người ký, tệp đã ký"),
    "publishResults": _l("Đã có phê duyệt: công bố kết quả và gửi thư kết quả cho từng đơn vị"),
    "listPublishedResults": _l("Các đợt đã công bố kết quả (công khai)"),
    "getPublishedResults": _l("Kết quả đã công bố của một đợt: quyết định và bảng xếp hạng từng khối kèm xếp loại "
                              "(công khai)"),
    "attachMilestoneDocument": _l("Dẫn văn bản đã ấn định hoặc dời một mốc: số, ngày, cơ quan ban hành, tệp đã ký"),
    "listMilestoneDocuments": _l("Các văn bản đã dẫn cho một mốc, cũ nhất trước"),
    "downloadLetter": _l("Một công văn dạng DOCX (Nghị định 30/2020/NĐ-CP), lập từ dữ liệu hiện tại của đợt"),
}
#: Each section's description in the page's language (the English is the tag's description).
SECTIONS = {
    "token": _l("Khóa đang dùng."),
    "campaigns": _l("Các đợt đánh giá, tiến độ và các đơn vị (đọc)."),
    "submissions": _l("Hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử (ghi nhận)."),
    "organizer": _l("Các thao tác của cơ quan tổ chức (quản lý)."),
    "workdays": _l("Tính ngày làm việc theo lịch của cơ quan tổ chức (đọc)."),
    "sheets": _l("Đánh giá: bộ tiêu chí, bảng điểm của các đơn vị, tệp minh chứng, thẩm định, vòng xác nhận số "
                 "liệu, kết quả."),
    "year": _l("Cả năm của đợt: đợt năm sau, bước khen thưởng, quyết định của UBND tỉnh, văn bản của các mốc, công "
               "văn."),
    "public": _l("Kết quả đã công bố (không cần khóa)."),
    "meta": _l("Tài liệu này."),
}
#: The document's introduction, paragraph by paragraph, in the page's language (the English is
#: ``web/api/openapi.API_DESCRIPTION``).
INTRO = [
    _l("Phần mềm quản lý văn bản của tỉnh và các chương trình của cơ quan tổ chức đọc và ghi các đợt đánh giá tại "
       "đây, với cùng các thao tác, kiểm tra và nhật ký như trên trang web và dòng lệnh."),
    _l("**Khóa.** Gửi `Authorization: Bearer hc_<prefix>_<secret>`. Cơ quan tổ chức tạo khóa bằng "
       "`flask token create --organizer TGG [--unit STC] --scope read --scope record --name \"VNPT iOffice\"`; khóa "
       "chỉ hiện một lần, được lưu dạng băm (SHA-256), và bị từ chối ngay từ yêu cầu tiếp theo khi đã thu hồi "
       "(`flask token revoke`). Phạm vi quyền: `read` (đợt đánh giá, tiến độ, tình trạng, ngày làm việc, bộ tiêu chí, bảng "
       "điểm, kết quả), `record` (ghi nhận hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử; khóa của đơn "
       "vị: điền và nộp bảng điểm, đính kèm minh chứng, trả lời về số liệu), `manage` (đánh dấu hoàn thành bước, dời "
       "mốc, trả lại hồ sơ, khôi phục đơn vị, thẩm định bảng điểm, gửi số liệu để xác nhận; đợt năm sau, đề nghị khen "
       "thưởng, quyết định và công bố, văn bản của các mốc, công văn). Khóa của một đơn vị chỉ thấy và ghi cho chính đơn vị đó, không có "
       "quyền `manage`; mọi thứ khác trả lời 404, như thể không tồn tại."),
    _l("**Lỗi** trả về dạng `application/problem+json` với `detail` (tiếng Anh), `detail_vi` (tiếng Việt) và "
       "`field`, trường bị lỗi. Dữ liệu sai là lỗi 4xx: 400 (không phải JSON), 401, 403, 404, 409 (bị quy định từ "
       "chối), 415, 422 (trường không hợp lệ)."),
    _l("**Gửi lại an toàn.** Mọi thao tác ghi nhận tiêu đề `Idempotency-Key`: gửi lại với cùng khóa và cùng nội "
       "dung thì nhận lại câu trả lời đầu tiên (tiêu đề `Idempotency-Replayed: true`) và không ghi gì hai lần."),
    _l("**Hỏi định kỳ.** Các danh sách chia trang bằng `limit` và `cursor` (`next_cursor`, null ở trang cuối). "
       "Mọi câu trả lời GET có `ETag`; gửi lại nó trong `If-None-Match` thì câu trả lời không đổi là 304 không có "
       "nội dung."),
    _l("**Thời gian.** Thời điểm theo ISO 8601 có độ lệch múi giờ (`2019-10-25T16:30:00+07:00`); câu trả lời dùng "
       "múi giờ của cơ quan tổ chức (Asia/Ho_Chi_Minh). Hạn nộp theo ngày kết thúc lúc 24:00 giờ địa phương; ngày "
       "làm việc theo lịch Việt Nam cùng các ngày nghỉ riêng của cơ quan tổ chức."),
]


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
        return Markup(_(" hoặc ")).join(others) + _(" hoặc null")
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    main = [k for k in kinds if k != "null"]
    text = escape(_(" hoặc ").join(main) or "null")
    if "array" in main and "items" in node:
        text = Markup(_("mảng các ")) + describe_schema(doc, node["items"])
    if node.get("format"):
        text += f" ({node['format']})"
    if node.get("contentEncoding"):
        text += f" ({node['contentEncoding']})"
    notes = []
    if "enum" in node:
        notes.append(_("một trong: %(values)s", values=", ".join(str(v) for v in node["enum"])))
    if "minimum" in node and "maximum" in node:
        notes.append(f"{node['minimum']}–{node['maximum']}")
    elif "minimum" in node:
        notes.append(f"≥ {node['minimum']}")
    elif "maximum" in node:
        notes.append(f"≤ {node['maximum']}")
    if "minLength" in node or "maxLength" in node:
        notes.append(_("%(low)s–%(high)s ký tự", low=node.get("minLength", 0), high=node.get("maxLength", "…")))
    if "maxItems" in node:
        notes.append(_("tối đa %(n)s phần tử", n=node["maxItems"]))
    if "pattern" in node:
        notes.append(_("mẫu %(pattern)s", pattern=node["pattern"]))
    if "default" in node:
        notes.append(_("mặc định %(value)s", value=json.dumps(node["default"])))
    if "null" in kinds:
        notes.append(_("hoặc null"))
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
            needs = _(" hoặc ").join("`" + _("` và `").join(fields) + "`" for fields in choices)
            lines.append(_("Mỗi %(name)s cần %(needs)s (hoặc cả hai).", name=name or _("nội dung gửi"), needs=needs))
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


def intro_paragraphs(doc: dict) -> list[str]:
    """The OpenAPI document's introduction, paragraph by paragraph (the English of ``INTRO``)."""
    return [p.replace("\n", " ") for p in doc["info"]["description"].strip().split("\n\n")]


def _scopes_text() -> str:
    vi = lang() == "vi"
    return _("Phạm vi quyền (ghi trong yêu cầu bảo mật của từng thao tác): %(scopes)s.",
             scopes="; ".join(f"`{k}`: {names[0] if vi else names[1]}" for k, names in SCOPES.items()))


def docs_model(doc: dict) -> dict:
    """What templates/api/docs.html shows, read from the OpenAPI document itself."""
    schemes = doc["components"]["securitySchemes"]
    vi = lang() == "vi"  # in English the page says what the OpenAPI document says, word for word
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
                summary = SUMMARIES.get(op["operationId"]) if vi else None
                operations.append({
                    "id": op["operationId"], "method": method.upper(), "path": path,
                    "summary": str(summary) if summary is not None else op.get("summary", ""),
                    "description": inline_markdown(op.get("description", "")), "public": not security,
                    "scopes": scopes,
                    "parameters": params, "body": body, "responses": responses,
                    "curl": _curl(method, path, op, doc, body_example),
                })
        described = SECTIONS.get(tag["name"]) if vi else None
        sections.append({"name": tag["name"], "operations": operations,
                         "description": str(described) if described is not None else tag.get("description", "")})
    schemas = []
    for name, schema in doc["components"]["schemas"].items():
        if name == "OpenApiDocument":
            continue
        example = schema.get("example")
        schemas.append({"name": name, "description": schema.get("description", ""),
                        "rows": schema_rows(doc, schema),
                        "example": json.dumps(example, ensure_ascii=False, indent=2) if example is not None else None})
    return {"title": doc["info"]["title"], "version": doc["info"]["version"], "openapi": doc["openapi"],
            "intro": [inline_markdown(str(p)) for p in (INTRO if vi else intro_paragraphs(doc))],
            "security": {**schemes["bearerAuth"], "description": inline_markdown(_scopes_text())},
            "sections": sections, "schemas": schemas}

"""The API contract, written once: what each operation accepts and answers.

These pydantic models are the single statement of the limits, patterns and
shapes of ``/api/v1``.  The same classes validate every request (query string,
headers, body, path) and produce the OpenAPI 3.1 document served at
``/api/v1/openapi.json`` (spectree derives it; ``web/api/openapi.py`` adds
what JSON Schema cannot say: the problem answers, ETag and replay headers).
Responses are open (a later version may add fields); requests are closed
(an unknown field or parameter is refused).  Checks that need the database or
a file's content are the views' and the operations' (``web/api/views.py``).

To add an operation: its request and answer models here, one view in
``web/api/views.py`` with ``@operation(...)`` naming them (docs/api.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from spectree import Tag

from web.api.types import (
    DEFAULT_LIMIT,
    MAX_DAYS,
    MAX_DOCUMENTS,
    MAX_LIMIT,
    Base64Content,
    Code,
    Cursor,
    Day,
    DocumentName,
    IdempotencyKey,
    Instant,
    NonNegative,
    QueryBool,
    Sha256,
    query_int,
    refuse,
    text,
)
from workflow.api_tokens import SCOPES
from workflow.machine import STATES
from workflow.standing import STATUSES
from workflow.timeline import MILESTONES

STEPS = ("launch", "review_done", "inspection_done", "awards_done", "approval_received", "cancel")
MILESTONE_KINDS = ("deadline", *MILESTONES)

TOKEN = Tag(name="token", description="The token in use.")
CAMPAIGNS = Tag(name="campaigns", description="Campaigns, their timeline and their units (read).")
SUBMISSIONS = Tag(name="submissions", description="Dossiers received through e-office or e-mail (record).")
ORGANIZER = Tag(name="organizer", description="The organizer's actions (manage).")
WORKDAYS = Tag(name="workdays", description="Working-day arithmetic with the organizer's calendar (read).")
SHEETS = Tag(name="sheets", description="The evaluation: criteria sets, the units' sheets, evidence files, "
                                        "verification, the figures-confirmation round, results (issue 12).")
META = Tag(name="meta", description="This document.")
YEAR = Tag(name="year", description="The campaign's whole year: next year's campaign, the award step, the "
                                    "People's Committee decision, milestone documents, official letters "
                                    "(web/api/year_views.py).")
PUBLIC = Tag(name="public", description="The published results (no token).")
TAGS = (TOKEN, CAMPAIGNS, SUBMISSIONS, ORGANIZER, SHEETS, YEAR, WORKDAYS, PUBLIC, META)


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """A field that may be left out but not sent as null has no ``default: null`` in the document."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None and "anyOf" not in prop and prop.get("type") != "null":
            del prop["default"]


class Closed(BaseModel):
    """A request part: unknown fields are refused, and null is not the same as a field left out."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


class Open(BaseModel):
    """An answer: every field is always sent; a later version may add some."""


# -- path parameters (a mismatch is a 404: what does not exist is not named) ------------------------------------------------

class CampaignPath(Closed):
    code: Code = Field(description="The campaign's code.", examples=["TGG-2019"])


class UnitPath(CampaignPath):
    unit_code: Code = Field(description="The unit's code (within the organizer).", examples=["STC"])


class MilestonePath(CampaignPath):
    kind: Literal[MILESTONE_KINDS] = Field(description="The milestone.", examples=["deadline"])  # type: ignore[valid-type]


# -- query strings and headers ----------------------------------------------------------------------------------------------------

class NoQuery(Closed):
    """No query parameter: any is refused (a typo must not be ignored silently)."""


class PageQuery(Closed):
    limit: query_int(1, MAX_LIMIT, default=DEFAULT_LIMIT) = Field(  # type: ignore[valid-type]
        DEFAULT_LIMIT, description="Items per page.")
    cursor: Cursor = Field(None, description="Opaque: `next_cursor` of the previous page.")


class WorkdaysAddQuery(Closed):
    date: Day = Field(description="The date the period is counted from (YYYY-MM-DD, years 1900–2199).",
                      examples=["2019-10-25"])
    days: query_int(0, MAX_DAYS) = Field(description="How many days.", examples=[5])  # type: ignore[valid-type]
    calendar_days: QueryBool = Field(False, description="Count calendar days instead of working days.")


class DayQuery(Closed):
    date: Day = Field(description="The date to ask about (YYYY-MM-DD, years 1900–2199).", examples=["2019-09-02"])


class ReadHeaders(BaseModel):
    if_none_match: str = Field(None, alias="If-None-Match",
                               description="The ETag of the copy you hold: 304 when nothing changed.")
    model_config = ConfigDict(extra="allow", populate_by_name=True, json_schema_extra=_drop_null_defaults)


class WriteHeaders(BaseModel):
    idempotency_key: IdempotencyKey = Field(
        None, alias="Idempotency-Key",
        description="A key of your choosing (a UUID): a retry with the same key and body returns the first answer "
                    "(with `Idempotency-Replayed: true`) and records nothing twice; the same key with another body "
                    "is refused (422).",
        examples=["eoffice-2345-VBD-2019"])
    model_config = ConfigDict(extra="allow", populate_by_name=True, json_schema_extra=_drop_null_defaults)


# -- request bodies ---------------------------------------------------------------------------------------------------------------

class DocumentIn(Closed):
    name: DocumentName = Field(description="The file name, without a path.")
    sha256: Sha256 = Field(None, description="The document's SHA-256, when it stays in the e-office system.")
    size: StrictInt = Field(None, ge=0, le=2**31 - 1, description="Its size in bytes.")
    content_base64: Base64Content = Field(
        None, description="The document itself (PDF, DOC, DOCX, XLS, XLSX; checked by content), to be stored here.")

    model_config = ConfigDict(json_schema_extra=lambda schema: (
        _drop_null_defaults(schema),
        schema.update(anyOf=[{"required": ["sha256"]}, {"required": ["content_base64"]}])))

    @model_validator(mode="after")
    def _sha_or_content(self) -> DocumentIn:
        if "sha256" not in self.model_fields_set and "content_base64" not in self.model_fields_set:
            raise refuse("Mỗi tài liệu cần SHA-256 hoặc nội dung (content_base64).",
                         "Each document needs its SHA-256 or its content (content_base64).", at="sha256")
        return self


_SUBMISSION_EXAMPLE = {
    "received_at": "2019-10-24T15:30:00+07:00", "doc_number": "2345/VBĐ", "channel": "eoffice",
    "documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf",
                   "sha256": "9f2c4e1b7a3d5f60c8e2a4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5", "size": 183422}]}


def _no_default(schema: dict) -> None:
    """A field that may be left out but not sent as null: no ``default: null`` in its schema."""
    schema.pop("default", None)


class SubmissionIn(Closed):
    # Not nullable (null is not a missing field: refused); left out, the view decides (see the descriptions),
    # so the schema states no default.
    received_at: Instant = Field(  # type: ignore[assignment]
        None, json_schema_extra=_no_default,
        description="When the dossier was received, ISO 8601 WITH its offset; not in the future. Required "
                          "with the organizer's tokens and recorded as given; with a unit's own token the server's "
                          "clock is the received instant (a unit cannot date its own dossier).",
        examples=["2019-10-24T15:30:00+07:00"])
    doc_number: text(128) = Field(  # type: ignore[valid-type]
        "", description="The incoming document number (số đến): required with the organizer's tokens; a unit's "
                        "token may not send one (403).", examples=["2345/VBĐ"])
    channel: Literal["upload", "eoffice", "email"] = Field(  # type: ignore[assignment]
        None, json_schema_extra=_no_default,
        description="The organizer's tokens: eoffice (default) or email. A unit's token: upload (default); "
                          "eoffice and email are the organizer's staff's to record (403).")
    documents: list[DocumentIn] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS,
        description="A unit's token must send at least one document with its content (content_base64).")
    kind: Literal["evaluation", "award"] = Field(
        "evaluation", description="evaluation: the evaluation dossier; award: the award dossier (hồ sơ đề nghị khen "
                                  "thưởng) of a unit proposed for an award, classified against the award dossiers "
                                  "milestone and its grace period, with the same receipts and channels.")

    model_config = ConfigDict(json_schema_extra={"example": _SUBMISSION_EXAMPLE})


class StepIn(Closed):
    step: Literal[STEPS] = Field(  # type: ignore[valid-type]
        description="launch, a step done (review_done, inspection_done, awards_done, approval_received), or cancel.")
    reason: text(2000) = Field("", description="Required to cancel or to skip a step; on record.")  # type: ignore[valid-type]

    model_config = ConfigDict(json_schema_extra={"example": {"step": "review_done", "reason": ""}})


class MilestoneMoveIn(Closed):
    end: Day = Field(description="The new date, or the range's end.")
    start: Day | None = Field(None, description="The range's start (field inspection); not for the deadline.")
    reason: text(2000, required=True) = Field(description="Why it moves; on record.")  # type: ignore[valid-type]

    model_config = ConfigDict(json_schema_extra={"example": {
        "end": "2019-11-08", "reason": "Công văn 1400/STTTT-CNTT: gia hạn do bão số 5"}})


class ReasonIn(Closed):
    reason: text(2000, required=True) = Field(description="The written reason; on record.")  # type: ignore[valid-type]

    model_config = ConfigDict(json_schema_extra={"example": {"reason": "Thiếu bảng điểm tự chấm (Phụ lục II)"}})


# -- answers ---------------------------------------------------------------------------------------------------------------------

State = Literal[tuple(STATES)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]


class FieldProblem(Open):
    """One value refused, of several."""

    code: str = Field(description="The criterion's code.")
    field: str = Field(description="The field at fault, e.g. values.1.1.denominator.")
    detail: str
    detail_vi: str


class Problem(Open):
    """An error (RFC 9457), in English and Vietnamese."""

    type: str
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What is wrong, in English.")
    detail_vi: str = Field(description="What is wrong, in Vietnamese.")
    field: str = Field(None, description="The field at fault: a body field (documents[0].sha256), a parameter "
                                         "(limit, code) or a header (Authorization, Idempotency-Key).")
    errors: list[FieldProblem] = Field(None, description="A sheet's values refused by their rules: every one, by "
                                                         "criterion (the first is `detail` and `field`).")

    model_config = ConfigDict(json_schema_extra=lambda schema: (_drop_null_defaults(schema), schema.update(example={
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "A dossier received through e-office or e-mail needs its incoming document number.",
        "detail_vi": "Hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử phải có số văn bản đến.",
        "field": "doc_number"})))


class Explanation(Open):
    """The summary, then one line per day counted or skipped (Vietnamese, English)."""

    vi: list[str]
    en: list[str]


class Named(Open):
    code: str
    name: str


class Token(Open):
    name: str
    prefix: str
    scopes: list[Literal[tuple(SCOPES)]]  # type: ignore[valid-type]
    organizer: Named
    unit: Named | None
    created_at: datetime

    model_config = ConfigDict(json_schema_extra={"example": {
        "name": "VNPT iOffice", "prefix": "3f9a61c2", "scopes": ["read", "record"],
        "organizer": {"code": "TGG", "name": "Sở Thông tin và Truyền thông tỉnh Tiền Giang"},
        "unit": None, "created_at": "2019-10-07T01:00:00+00:00"}})


class LaunchLetter(Open):
    """The launching letter."""

    number: str
    date: date | None


class Campaign(Open):
    code: str
    title: str
    year: int
    organizer: str = Field(description="The organizer's code.")
    state: State = Field(description="The state as of now: the recorded state moved on by the clock.")
    state_name: str
    state_name_en: str
    recorded_state: State = Field(description="The state last recorded (time-driven moves are recorded by the tick).")
    deadline: date = Field(description="The submission deadline: a local date that ends at 24:00.")
    grace_working_days: NonNegative
    deadline_at: datetime = Field(description="When the deadline ends (24:00 local time, exclusive).")
    grace_ends_at: datetime = Field(description="When the grace period ends: later dossiers are refused.")
    document: LaunchLetter
    cancel_reason: str | None
    counts: dict[str, NonNegative] | None = Field(description="Units by status; null for a unit's token.")

    model_config = ConfigDict(json_schema_extra={"example": {
        "code": "TGG-2019", "title": "Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm 2019", "year": 2019,
        "organizer": "TGG", "state": "open", "state_name": "Đang nhận hồ sơ", "state_name_en": "Accepting submissions",
        "recorded_state": "open", "deadline": "2019-10-25", "grace_working_days": 5,
        "deadline_at": "2019-10-26T00:00:00+07:00", "grace_ends_at": "2019-11-02T00:00:00+07:00",
        "document": {"number": "1270/STTTT-CNTT&BCVT", "date": "2019-10-07"}, "cancel_reason": None,
        "counts": {"not_submitted": 4, "on_time": 2, "late": 0, "excluded": 0}}})


class CampaignPage(Open):
    items: list[Campaign]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


class MilestoneDocument(Open):
    """The newest document cited for a milestone (the letter or decision that set or moved it)."""

    number: str = Field(description="Number and symbol, e.g. 1270/STTTT-CNTT&BCVT.")
    date: date | None
    issuer: str
    sha256: str | None = Field(description="The signed file's SHA-256, when one was attached.")


class Milestone(Open):
    kind: Literal[("deadline", "grace_end", *MILESTONES)]  # type: ignore[valid-type]
    name: str
    name_en: str
    start: date | None
    end: date
    ends_at: datetime = Field(description="24:00 local time of the end date.")
    computed: bool = Field(description="Computed from other dates (the grace end), not set by hand.")
    reached: bool
    overdue: bool
    explanation: Explanation | None
    document: MilestoneDocument | None = Field(description="The newest document cited for it; null when none.")


_GRACE_EXPLANATION = {
    "vi": ["5 ngày làm việc kể từ Thứ Sáu 25/10/2019: kết thúc lúc 24:00 Thứ Sáu 01/11/2019",
           "Thứ Bảy 26/10/2019: không tính — Thứ Bảy", "…"],
    "en": ["5 working days counted from Friday 25/10/2019: ends at 24:00 on Friday 01/11/2019",
           "Saturday 26/10/2019: skipped — Saturday", "…"]}


class Timeline(Open):
    campaign: str
    state: State
    state_name: str
    state_name_en: str
    deadline_at: datetime
    grace_ends_at: datetime
    milestones: list[Milestone]

    model_config = ConfigDict(json_schema_extra={"example": {
        "campaign": "TGG-2019", "state": "open", "state_name": "Đang nhận hồ sơ",
        "state_name_en": "Accepting submissions", "deadline_at": "2019-10-26T00:00:00+07:00",
        "grace_ends_at": "2019-11-02T00:00:00+07:00", "milestones": [{
            "kind": "grace_end", "name": "Hết thời gian gia hạn (5 ngày làm việc)",
            "name_en": "Grace period ends (5 working days)", "start": None, "end": "2019-11-01",
            "ends_at": "2019-11-02T00:00:00+07:00", "computed": True, "reached": False, "overdue": False,
            "explanation": _GRACE_EXPLANATION}]}})


_UNIT_EXAMPLE = {
    "code": "STC", "name": "Sở Tài chính", "group": "department", "parent": None, "status": "on_time",
    "status_name": "Nộp đúng hạn", "status_name_en": "On time", "received_at": "2019-10-24T15:30:00+07:00",
    "late_working_days": 0, "versions": 1, "reinstated_reason": None, "returned_reason": None,
    "self_score": None, "verified_score": None, "score": None, "provisional": True, "rating": None, "rank": None,
    "nominated": False}


class UnitStatus(Open):
    code: str
    name: str
    group: str = Field(description="The khối: department, district, vertical, commune…")
    parent: str | None = Field(description="The district over a commune.")
    status: Status = Field(description="As of now: a unit that sent nothing is excluded once grace has ended.")
    status_name: str
    status_name_en: str
    received_at: datetime | None = Field(description="The received instant of the dossier in force.")
    late_working_days: NonNegative
    versions: NonNegative
    reinstated_reason: str | None
    returned_reason: str | None
    self_score: float | None
    verified_score: float | None
    score: float | None
    provisional: bool
    rating: str | None
    rank: int | None = Field(ge=1)
    nominated: bool

    model_config = ConfigDict(json_schema_extra={"example": _UNIT_EXAMPLE})


class UnitPage(Open):
    campaign: str
    items: list[UnitStatus]
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; null on the last.")


class DocumentOut(Open):
    name: str
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size: int | None
    stored: bool = Field(description="Stored here (sent as content), or only its SHA-256.")


_SUBMISSION_OUT_EXAMPLE = {
    "version": 1, "receipt_number": "TGG-2019/STC/1", "received_at": "2019-10-24T15:30:00+07:00",
    "channel": "eoffice", "doc_number": "2345/VBĐ", "recorded_by": "api:VNPT iOffice", "late_working_days": 0,
    "documents": [{"name": "bao-cao-ung-dung-cntt-2019.pdf", "sha256": "9f2c" + "0" * 60, "size": 183422,
                   "stored": False}]}


class Submission(Open):
    version: int = Field(ge=1)
    receipt_number: str
    received_at: datetime
    channel: Literal["upload", "eoffice", "email"]
    doc_number: str
    recorded_by: str = Field(description="api:<token name> for dossiers recorded through the API.")
    late_working_days: NonNegative
    documents: list[DocumentOut]

    model_config = ConfigDict(json_schema_extra={"example": _SUBMISSION_OUT_EXAMPLE})


class UnitDetail(UnitStatus):
    campaign: str
    submissions: list[Submission]

    model_config = ConfigDict(json_schema_extra={"example": {
        **_UNIT_EXAMPLE, "campaign": "TGG-2019", "submissions": [_SUBMISSION_OUT_EXAMPLE]}})


class Receipt(Submission):
    kind: Literal["evaluation", "award"] = Field(description="The dossier recorded: evaluation or award.")
    status: Literal["on_time", "late"] = Field(description="As classified against its deadline.")
    unit: UnitDetail

    model_config = ConfigDict(json_schema_extra={"example": {
        **_SUBMISSION_OUT_EXAMPLE, "kind": "evaluation", "status": "on_time",
        "unit": {**_UNIT_EXAMPLE, "campaign": "TGG-2019"}}})


class StepResult(Open):
    step: Literal[STEPS]  # type: ignore[valid-type]
    from_: State = Field(alias="from")
    to: State
    skipped: list[str] = Field(description="Steps skipped (a reason was given).")
    campaign: Campaign


class Period(Open):
    kind: Literal["working_days", "calendar_days"]
    start: date
    length: NonNegative
    last_day: date
    ends_at: datetime = Field(description="24:00 local time of the last day.")
    rolled_from: date | None = Field(description="Calendar days: the nominal last day, when it was not a working day "
                                                 "and the period ran on (Civil Code art. 148).")
    explanation: Explanation
    calendar_days: bool
    organizer: str

    model_config = ConfigDict(json_schema_extra={"example": {
        "kind": "working_days", "start": "2019-10-25", "length": 5, "last_day": "2019-11-01",
        "ends_at": "2019-11-02T00:00:00+07:00", "rolled_from": None, "calendar_days": False, "organizer": "TGG",
        "explanation": {"vi": _GRACE_EXPLANATION["vi"][:1] + ["…"], "en": _GRACE_EXPLANATION["en"][:1] + ["…"]}}})


class DayExplanation(Open):
    vi: str
    en: str


class DayStatus(Open):
    date: date
    working: bool
    reason: Literal["working", "weekend", "holiday", "makeup_workday", "local_day_off", "local_working_day"]
    name: str
    name_en: str
    document: str | None = Field(description="The decision, for local days.")
    explanation: DayExplanation
    organizer: str

    model_config = ConfigDict(json_schema_extra={"example": {
        "date": "2019-09-02", "working": False, "reason": "holiday", "name": "Quốc khánh", "name_en": "National Day",
        "document": None, "explanation": {"vi": "Quốc khánh", "en": "National Day"}, "organizer": "TGG"}})


class OpenApiDocument(Open):
    openapi: str
    paths: dict[str, Any]

"""The API contract of the evaluation (issue 12): criteria sets, a unit's sheet, verification, the
figures-confirmation round, evidence files and the results by group.

As ``web/api/models.py``: requests are closed (an unknown field is refused), answers open.  A value of
a criterion is the ``criteria_rules`` value form (docs/evaluation.md); its checks (a ratio without its
denominator, N/A without an explanation …) are the rules', in ``workflow.evaluation``, never here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StringConstraints, WithJsonSchema

from web.api.models import Closed, Open, Submission, UnitPath, _drop_null_defaults
from web.api.types import Base64Content, DocumentName
from web.api.types import text as text_of
from workflow.criteria_rules import KINDS
from workflow.evaluation import RESPONSES, STAGES
from workflow.standing import STATUSES

CRITERION_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,5}$"
CriterionCode = Annotated[str, StringConstraints(pattern=CRITERION_PATTERN, max_length=32)]
#: A number as a person types it: 12, 12.5, "12,5" (a Vietnamese decimal comma).
NumberText = Annotated[StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=32)],
                       WithJsonSchema({"type": ["number", "string"], "maxLength": 32})]
Points = Annotated[StrictInt | StrictFloat, Field(ge=0, le=100000),
                   WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100000})]
MAX_VALUES = 1000
Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]
Stage = Literal[tuple(STAGES)]  # type: ignore[valid-type]


def _example(example: dict) -> Any:
    """A request's schema: its example, and no ``default: null`` for a field that may be left out."""
    return lambda schema: (_drop_null_defaults(schema), schema.update(example=example))


# -- path parameters ---------------------------------------------------------------------------------------------

class CriterionPath(UnitPath):
    criterion: CriterionCode = Field(description="The criterion's code in the unit's sheet.", examples=["1.1"])


class EvidencePath(UnitPath):
    file_id: Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(description="The evidence file's id (`files[].id`).",
                                                              examples=[1])


# -- request bodies --------------------------------------------------------------------------------------------------

class ValueIn(Closed):
    """One criterion's value; the fields its kind uses (docs/evaluation.md). Nothing: blank (scores 0)."""

    yes: StrictBool = Field(None, description="yes_no.")
    number: NumberText = Field(None, description="number: a count (≥ 0).")
    numerator: NumberText = Field(None, description="ratio: both numerator and denominator, numerator ≤ denominator.")
    denominator: NumberText = Field(None, description="ratio: > 0.")
    links: list[text_of(2000)] = Field(None, max_length=50,  # type: ignore[valid-type]
                                    description="link: http(s) addresses.")
    level: text_of(64) = Field(None, description="choice: a level's value.")  # type: ignore[valid-type]
    text: text_of(20000) = Field(None, description="text.")  # type: ignore[valid-type]
    points: NumberText = Field(None, description="points (a self-scored sheet): 0 … maximum.")
    na: StrictBool = Field(None, description="Not applicable: only where the criterion allows it; scores the "
                                             "maximum; needs `explanation`.")
    explanation: text_of(4000) = Field(None, description="Why it does not apply.")  # type: ignore[valid-type]

    def as_value(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set}


_VALUES_EXAMPLE = {"1.1": {"numerator": 45, "denominator": 50},
                   "1.2": {"links": ["https://stc.tiengiang.gov.vn/chi-dao-dieu-hanh"]},
                   "2.1": {"na": True, "explanation": "Sở không có thủ tục hành chính mức 3, 4"}}


class DraftIn(Closed):
    values: dict[CriterionCode, ValueIn] = Field(
        max_length=MAX_VALUES,
        description="Values by criterion code; the criteria left out keep their saved value. Files of an evidence "
                    "criterion are attached, not typed (`…/evidence`).")

    model_config = ConfigDict(json_schema_extra=_example({"values": _VALUES_EXAMPLE}))


class SubmitIn(Closed):
    values: dict[CriterionCode, ValueIn] = Field(
        default_factory=dict, max_length=MAX_VALUES,
        description="Saved into the draft first (as `PUT …/sheet/draft`), then the sheet is submitted.")

    model_config = ConfigDict(json_schema_extra=_example({"values": {}}))


class VerifyIn(Closed):
    stage: Stage = Field("preliminary_review", description="preliminary_review or field_inspection.")
    value: ValueIn = Field(None, description="The verified value, scored by the criterion's rule (left out: the "
                                             "claimed value stands).")
    points: Points = Field(None, description="The verifier's points, overriding the rule (0 … maximum).")
    link_not_found: StrictBool = Field(False, description="A link criterion: the item was not found (scores 0).")
    note: text_of(2000) = Field("", description="Required when the verified points or value differ from the claim; "  # type: ignore[valid-type]
                                             "the unit sees it.")

    model_config = ConfigDict(json_schema_extra=_example({
        "stage": "preliminary_review", "value": {"numerator": 40, "denominator": 50},
        "note": "Theo số liệu trên hệ thống quản lý văn bản: 40/50"}))


class ConfirmationIn(Closed):
    working_days: StrictInt = Field(3, ge=1, le=30, description="Working days to answer (the calendar decides).")
    note: text_of(2000) = Field("", description="Sent to the unit with the figures.")  # type: ignore[valid-type]

    model_config = ConfigDict(json_schema_extra=_example({"working_days": 3, "note": ""}))


class AnswerIn(Closed):
    answer: Literal["confirmed", "disputed"]
    reason: text_of(2000) = Field("", description="Required to dispute.")  # type: ignore[valid-type]


class FigureAnswersIn(Closed):
    answers: dict[CriterionCode, AnswerIn] = Field(min_length=1, max_length=MAX_VALUES,
                                                   description="By criterion code; the others can be answered later, "
                                                               "until the deadline.")

    model_config = ConfigDict(json_schema_extra=_example({"answers": {
        "1.1": {"answer": "disputed", "reason": "Số liệu 45/50 theo báo cáo tháng 10"},
        "1.2": {"answer": "confirmed", "reason": ""}}}))


class EvidenceIn(Closed):
    name: DocumentName = Field(description="The file name, without a path.")
    content_base64: Base64Content = Field(description="The file (PDF, DOC, DOCX, XLS, XLSX; checked by content).")

    model_config = ConfigDict(json_schema_extra=_example({"name": "quyet-dinh-ban-hanh-quy-che.pdf",
                                                             "content_base64": "JVBERi0xLjQKJSVFT0YK"}))


class EmptyIn(Closed):
    """No field: send `{}`."""


# -- answers ---------------------------------------------------------------------------------------------------------

class CriterionNode(Open):
    code: str
    parent: str | None = Field(description="The parent's code; null for a section.")
    depth: int = Field(ge=0, description="0: a section; 1: a criterion; 2…: sub-criteria.")
    title: str
    maximum: float
    leaf: bool = Field(description="A criterion the unit fills (it has a kind); else a parent: sum of its "
                                   "children, bounded by its maximum.")
    kind: Kind | None
    kind_name: str | None
    kind_name_en: str | None
    rule: dict[str, Any] = Field(description="The declared rule: bands, proportional, levels, min_links, not_above.")
    rule_text: str = Field(description="The rule in the XLSX template's one-line form.")
    guidance: str
    allow_na: bool
    groups: list[str] = Field(description="The groups it applies to; empty: every group of the set.")


class CriteriaSetOut(Open):
    code: str
    title: str
    groups: list[str] = Field(description="The groups (khối) that fill it; empty: every group.")
    maximum: float = Field(description="The sections' maxima added up (for a group, only those applying to it).")
    nodes: list[CriterionNode] = Field(description="Depth first, in the published order.")


class CriteriaSets(Open):
    campaign: str
    sets: list[CriteriaSetOut]

    model_config = ConfigDict(json_schema_extra={"example": {"campaign": "TGG-2019", "sets": [{
        "code": "TGG-2019", "title": "", "groups": [], "maximum": 20, "nodes": [
            {"code": "1", "parent": None, "depth": 0, "title": "Hạ tầng kỹ thuật CNTT", "maximum": 10, "leaf": False,
             "kind": None, "kind_name": None, "kind_name_en": None, "rule": {}, "rule_text": "", "guidance": "",
             "allow_na": False, "groups": []},
            {"code": "1.1", "parent": "1", "depth": 1, "title": "Tỷ lệ văn bản điện tử", "maximum": 6, "leaf": True,
             "kind": "ratio", "kind_name": "Tỷ lệ (tử số/mẫu số)", "kind_name_en": "Ratio (numerator/denominator)",
             "rule": {"bands": [{"min": "90", "points": "6"}, {"min": "50", "points": "3"}]},
             "rule_text": ">=90%:6; >=50%:3", "guidance": "", "allow_na": False, "groups": []}]}]}})


class EvidenceOut(Open):
    id: int
    name: str
    size: int
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    content_type: str
    uploaded_at: datetime
    uploaded_by: str
    download: str = Field(description="The web page's download link (signed-in accounts).")


class VerifiedOut(Open):
    value: dict[str, Any] | None = Field(description="The verified value when it differs from the claim.")
    points: float | None = Field(description="The verifier's points, when set (they override the rule).")
    link_not_found: bool
    note: str
    stage: Stage | None
    by: str
    at: datetime | None


class ResponseOut(Open):
    answer: Literal[tuple(RESPONSES)]  # type: ignore[valid-type]
    reason: str
    at: datetime | None


class SheetCriterion(Open):
    code: str
    parent: str | None
    title: str
    maximum: float
    leaf: bool
    kind: Kind | None
    draft: dict[str, Any] | None = Field(description="The saved working copy (a leaf); evidence files are in `files`.")
    claimed: dict[str, Any] | None = Field(description="The value submitted (a leaf); null before the submission.")
    draft_points: float = Field(description="Points of the draft by the rule (a parent: its children's, bounded).")
    claimed_points: float
    verified_points: float = Field(description="Points after verification (the claimed ones until verified).")
    verified: VerifiedOut | None = Field(description="The verifier's finding; null when not verified.")
    flags: list[str] = Field(description="Logic-check flags on this criterion (organizer's tokens only).")
    response: ResponseOut | None = Field(description="The unit's answer in the last confirmation round.")
    files: list[EvidenceOut]


class SectionScore(Open):
    code: str
    title: str
    maximum: float
    draft: float
    claimed: float
    verified: float


class FlagOut(Open):
    code: str
    kind: Literal["ratio_over_100", "numerator_over_denominator", "above_other", "link_missing", "na_unexplained",
                  "invalid"]
    message: str
    message_vi: str


class ConfirmationOut(Open):
    id: int
    state: Literal["open", "answered", "lapsed"] = Field(description="lapsed: the deadline passed; the criteria "
                                                                     "unanswered are “not disputed in time”.")
    sent_at: datetime
    sent_by: str
    working_days: int
    deadline: date = Field(description="The last local day to answer (ends at 24:00).")
    due_at: datetime
    note: str
    disputed: int = Field(ge=0)
    changed: list[str] = Field(description="Criteria whose verified figures differ from the claim.")


class SheetOut(Open):
    campaign: str
    unit: str
    unit_name: str
    group: str
    set: str
    set_title: str
    state: Literal["not_started", "draft", "submitted"]
    dossier_status: Literal[tuple(STATUSES)]  # type: ignore[valid-type]
    may_change: bool = Field(description="Whether the unit may still save and submit (before grace end …).")
    saved_at: datetime | None
    saved_by: str
    submitted_at: datetime | None
    receipt_number: str | None
    maximum: float
    draft_total: float
    claimed_total: float | None = Field(description="The self-assessed total, once submitted.")
    verified_total: float | None = Field(description="The verified total, once submitted.")
    sections: list[SectionScore]
    criteria: list[SheetCriterion] = Field(description="Every node of the unit's sheet, depth first.")
    flags: list[FlagOut] = Field(description="The logic checks on the submitted values (organizer's tokens only).")
    confirmation: ConfirmationOut | None = Field(description="The last figures-confirmation round.")


class SheetSubmitted(Open):
    receipt: Submission
    sheet: SheetOut


class EvidenceAttached(Open):
    file: EvidenceOut
    sheet: SheetOut


class SentOut(Open):
    unit: str
    round: int
    deadline: date
    due_at: datetime


class RefusedOut(Open):
    unit: str
    detail: str
    detail_vi: str


class ConfirmationsSent(Open):
    campaign: str
    sent: list[SentOut]
    refused: list[RefusedOut] = Field(description="Units with a submitted sheet the figures could not go to, "
                                                  "and why (already out, excluded …).")


class ResultSection(Open):
    code: str
    title: str
    maximum: float


class SectionPoints(Open):
    claimed: float
    verified: float


class UnitResult(Open):
    code: str
    name: str
    status: Literal[tuple(STATUSES)]  # type: ignore[valid-type]
    sections: dict[str, SectionPoints] = Field(description="By section code.")
    claimed_total: float | None
    verified_total: float | None
    score: float | None = Field(description="The score ranked: verified, else self-assessed (provisional).")
    provisional: bool
    rating: str | None
    rank: int | None = Field(ge=1)


class GroupResult(Open):
    group: str
    group_name: str
    group_name_en: str
    sections: list[ResultSection]
    units: list[UnitResult] = Field(description="By rank; units not ranked (excluded …) last.")


class Results(Open):
    campaign: str
    groups: list[GroupResult]

"""The API contract of the campaign's whole year (issue 16): next year's campaign, the award step, the People's
Committee decision and the public results, milestone documents, official letters.

The same conventions as ``web/api/models.py`` (requests closed, answers open, one statement of every limit);
the operations are in ``web/api/year_views.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StrictInt

from web.api.models import Campaign, CampaignPath, Closed, Named, Open, Status, Submission
from web.api.types import MAX_YEAR, MIN_YEAR, Base64Content, Code, Day, DocumentName, NonNegative, refuse, text
from workflow.letters import KINDS as LETTER_KINDS
from workflow.letters import NOT_IN_XML
from workflow.milestone_docs import KINDS as DOCUMENT_KINDS

#: At most this many unit codes in one list (a province has a few hundred units).
MAX_CODES = 2000

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

def _xml(value: str) -> str:
    """What a DOCX (XML 1.0) cannot hold (``letters.NOT_IN_XML``), refused naming the field."""
    if NOT_IN_XML.search(value):
        raise refuse("“{field}” chứa ký tự không hợp lệ.", "“{field}” holds invalid characters.")
    return value


def letter_text(max_length: int, *, required: bool = False) -> Any:
    """Text written into a letter: as ``text()``, and only characters a DOCX can hold."""
    return Annotated[text(max_length, required=required), AfterValidator(_xml)]


# -- paths and queries ---------------------------------------------------------------------------------------------

class DocumentMilestonePath(CampaignPath):
    kind: Literal[DOCUMENT_KINDS] = Field(description="The milestone.", examples=["deadline"])  # type: ignore[valid-type]


class LetterPath(CampaignPath):
    letter: Literal[tuple(LETTER_KINDS)] = Field(  # type: ignore[valid-type]
        description="launch (the launching letter), reminder (units that have not submitted, by group), exclusion "
                    "(the notice of exclusion), results (the results with the annexed ranking table).",
        examples=["launch"])


class LetterQuery(Closed):
    date: Day = Field(description="The letter's date (YYYY-MM-DD).", examples=["2019-10-07"])
    number: letter_text(128) = Field("", description="Number and symbol, e.g. 1270/STTTT-CNTT&BCVT; empty leaves dots "  # type: ignore[valid-type]
                                              "to fill by hand.", examples=["1270/STTTT-CNTT&BCVT"])
    authority: letter_text(255) = Field("", description="The authority above the title, e.g. KT. GIÁM ĐỐC; empty when "  # type: ignore[valid-type]
                                                 "the head signs.")
    title: letter_text(255, required=True) = Field(description="The signer's title, e.g. PHÓ GIÁM ĐỐC.",  # type: ignore[valid-type]
                                            examples=["GIÁM ĐỐC"])
    signer: letter_text(255, required=True) = Field(description="The signer's name.",  # type: ignore[valid-type]
                                             examples=["Nguyễn Văn A"])


# -- next year's campaign ------------------------------------------------------------------------------------------

class CloneIn(Closed):
    code: Code = Field(description="The new campaign's code (must not exist).", examples=["TGG-2020"])
    year: StrictInt = Field(ge=MIN_YEAR, le=MAX_YEAR, description="The new campaign's year (after the source's).",
                            examples=[2020])
    deadline: Day | None = Field(None, description="The new deadline; left out or null: the same day and month, "
                                                   "moved to the next working day when that is a day off.")
    leave_out: list[Code] = Field(default_factory=list, max_length=MAX_CODES,
                                  description="Units of the source not taken into the new campaign.")
    leave_out_abolished: StrictBool = Field(False, description="Leave out the units that no longer exist too "
                                                               "(district committees after 1 July 2025).")

    model_config = ConfigDict(json_schema_extra={"example": {"code": "TGG-2020", "year": 2020}})


class DateMove(Open):
    what: str = Field(description="deadline, document_date, data_period_start, data_period_end, a milestone kind, "
                                  "or <kind>.start.")
    name: str
    name_en: str
    old: date
    new: date
    rule: str = Field(description="How it moved: working_days_after, working_days_before, calendar_days_before, "
                                  "year, given, same_day_next_working_day.")
    n: int = Field(description="The working days (or years, or calendar days) of the rule.")
    extra_days: int = Field(description="Calendar days after the n-th working day (a date that was a day off): "
                                        "zero or negative.")


class CloneWarning(Open):
    what: str
    day: date
    kind: Literal["day_off", "before_grace_end"]
    message: str = Field(description="In English.")
    message_vi: str


class CloneUnit(Open):
    code: str
    name: str
    group: str
    abolished: bool = Field(description="Probably no longer exists (a district committee after 1 July 2025).")
    left_out: bool


class CloneCriteria(Open):
    sets: NonNegative = Field(description="Criteria sets copied (definitions only, no unit's values).")
    criteria: NonNegative = Field(description="Criteria copied (scored rows), over every set.")


class ClonePlan(Open):
    """The plan: every date moved, its warnings, the units (abolished, left out), the criteria copied."""

    source: str
    code: str
    year: int
    deadline: date
    deadline_given: bool
    moves: list[DateMove]
    warnings: list[CloneWarning]
    abolished_units: list[str]
    left_out: list[str]
    units: list[CloneUnit] = Field(description="Every unit of the source campaign.")
    units_kept: NonNegative
    criteria: CloneCriteria


class CloneResult(ClonePlan):
    campaign: Campaign = Field(description="The new campaign (a draft linked to the source).")
    previous: str = Field(description="The source campaign's code.")


# -- the award step -------------------------------------------------------------------------------------------------

DossierStatus = Literal["not_submitted", "on_time", "late"]


class RankingRow(Open):
    unit: str
    name: str
    group: str
    status: Status
    score: float | None
    rating: str | None
    rank: int | None = Field(ge=1)
    by_ranking: bool = Field(description="The ranking proposes it (the best tier of its group; rank 1 with one tier).")
    proposed: bool


class AwardProposal(Open):
    unit: str
    name: str
    group: str
    from_ranking: bool = Field(description="Proposed by the ranking; false: added by hand (reason).")
    reason: str
    proposed_by: str
    proposed_at: datetime
    notified_at: datetime | None = Field(description="When its notice was queued.")
    dossier_status: DossierStatus
    late_working_days: NonNegative
    received_at: datetime | None
    dossiers: list[Submission] = Field(description="Its award dossiers, oldest first.")


class FileOut(Open):
    name: str
    sha256: str


class Decision(Open):
    """The People's Committee decision approving the results."""

    number: str
    decided_on: date
    signer: str
    file: FileOut | None
    recorded_by: str
    recorded_at: datetime
    published_at: datetime | None
    published_units: NonNegative = Field(description="Ranked units in the published results.")


class AwardStep(Open):
    campaign: str
    state: str
    award_deadline: date | None = Field(description="The award dossiers milestone; null when the campaign has none.")
    award_grace_ends_at: datetime | None
    ranking: list[RankingRow] = Field(description="Each unit's result, with whether it is proposed "
                                                  "(a unit's token: its own row only).")
    proposals: list[AwardProposal]
    decision: Decision | None


class ProposeIn(Closed):
    add: list[Code] = Field(default_factory=list, max_length=MAX_CODES,
                            description="Units proposed by hand, besides the ranking's (needs a reason).")
    remove: list[Code] = Field(default_factory=list, max_length=MAX_CODES,
                               description="Units of the ranking not proposed (needs a reason).")
    reason: text(2000) = Field("", description="Why the list differs from the ranking; on record.")  # type: ignore[valid-type]

    model_config = ConfigDict(json_schema_extra={"example": {
        "add": ["SNV"], "remove": [], "reason": "Đề xuất của Hội đồng thẩm định"}})


class AwardDossier(Submission):
    unit: str
    name: str
    status: Literal["on_time", "late"]


class AwardDossierPage(Open):
    campaign: str
    items: list[AwardDossier]


class FileIn(Closed):
    name: DocumentName = Field(description="The file name, without a path.")
    content_base64: Base64Content = Field(description="The signed file (PDF, DOC, DOCX; checked by content).")


class DecisionIn(Closed):
    number: text(128, required=True) = Field(description="e.g. 2950/QĐ-UBND", examples=["3421/QĐ-UBND"])  # type: ignore[valid-type]
    decided_on: Day = Field(description="The decision's date; not in the future.", examples=["2019-12-06"])
    signer: text(255, required=True) = Field(  # type: ignore[valid-type]
        description="The signer's title and name.", examples=["KT. CHỦ TỊCH, PHÓ CHỦ TỊCH Nguyễn Văn Vĩnh"])
    file: FileIn | None = Field(None, description="The signed decision, stored here.")


class PublishIn(Closed):
    reason: text(2000) = Field("", description="On record with the approval step (default: the decision's "  # type: ignore[valid-type]
                                               "number).")


# -- the public results ----------------------------------------------------------------------------------------------

class PublicRow(Open):
    unit: str
    name: str
    rank: int
    rating: str | None
    score: str | None = Field(description="As published (a decimal string).")


class PublicGroup(Open):
    group: str
    items: list[PublicRow]


class PublicDecision(Open):
    number: str
    decided_on: date
    signer: str


class PublicResults(Open):
    """What the public page /ket-qua/CODE shows: only what was published."""

    code: str
    title: str
    year: int
    organizer: Named
    decision: PublicDecision
    published_at: datetime
    tiers: list[dict[str, Any]]
    groups: list[PublicGroup]


class PublicCampaign(Open):
    code: str
    title: str
    year: int
    organizer: Named
    decision_number: str
    published_at: datetime


class PublicIndex(Open):
    items: list[PublicCampaign]


# -- milestone documents ---------------------------------------------------------------------------------------------

class MilestoneDocumentIn(Closed):
    number: text(128, required=True) = Field(description="Number and symbol.",  # type: ignore[valid-type]
                                             examples=["1270/STTTT-CNTT&BCVT"])
    date: Day | None = Field(None, description="Its date.")
    issuer: text(255) = Field("", description="Who issued it.",  # type: ignore[valid-type]
                              examples=["Sở Thông tin và Truyền thông"])
    file: FileIn | None = Field(None, description="The signed file, stored here.")


class MilestoneDocumentItem(Open):
    kind: str
    number: str
    date: date | None
    issuer: str
    file: FileOut | None
    recorded_by: str
    recorded_at: datetime


class MilestoneDocumentList(Open):
    campaign: str
    kind: str
    items: list[MilestoneDocumentItem] = Field(description="Oldest first; the timeline shows the newest.")

"""Campaigns described in YAML files: ``flask campaign import`` / ``export``.

The format is documented in README.md ("Campaign files") and shown by the
files in ``examples/``.  A file is checked whole before anything is written:
a bad file gets one message naming the line and the field, and nothing is
half-imported.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from notifications.rules import ReminderRules, RulesError

from .addresses import is_email
from .audit import record
from .db import db
from .models import Campaign, Milestone, Organizer, Participation, Unit
from .standing import DEFAULT_TIERS
from .timeline import MILESTONES

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Path segments the web pages use next to codes (/campaigns/new, …/units/import).
RESERVED_CODES = {"new", "import", "template.xlsx", "template.csv", "grace-preview", "day-status"}
KNOWN_GROUPS = {
    "department": ("Sở, ban, ngành", "Provincial departments"),
    "district": ("UBND cấp huyện", "District committees"),
    "vertical": ("Cơ quan ngành dọc", "Vertically managed agencies"),
    "commune": ("UBND cấp xã", "Commune committees"),
    "portal": ("Cổng thông tin điện tử", "Provincial portal office"),
}


class CampaignFileError(ValueError):
    """A problem in a campaign file, with its line and field."""

    def __init__(self, message: str, line: int | None = None, field: str | None = None, path: str = ""):
        where = ", ".join(x for x in (path, f"line {line}" if line else "", f"field {field!r}" if field else "") if x)
        super().__init__(f"{where}: {message}" if where else message)
        self.line, self.field, self.message = line, field, message


class _Mapping(dict):
    """A mapping that knows the line of each key (1-based)."""

    line: int = 0
    lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        mapping = _Mapping(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
        return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)


def _construct_timestamp(loader, node):
    """A date-shaped scalar that is no date (2019-13-45) stays text, so the reader names its line."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _line(m: Any, key: str | None = None) -> int | None:
    if isinstance(m, _Mapping):
        return m.lines.get(key, m.line) if key else m.line
    return None


@dataclass
class UnitSpec:
    code: str
    name: str
    group: str
    emails: list[str]
    head_email: str = ""
    parent: str | None = None
    language: str = "vi"
    self_score: Decimal | None = None
    line: int | None = None


@dataclass
class CampaignSpec:
    organizer: dict[str, str]
    code: str
    title: str
    year: int
    deadline: date
    grace_working_days: int
    document_number: str = ""
    document_date: date | None = None
    data_period: tuple[date | None, date | None] = (None, None)
    state: str = "open"
    commune_nomination: bool = False
    milestones: dict[str, tuple[date | None, date]] = field(default_factory=dict)
    tiers: list[dict] = field(default_factory=lambda: list(DEFAULT_TIERS))
    required_documents: dict[str, list[str]] = field(default_factory=dict)
    reminder_rules: dict[str, Any] | None = None
    council_emails: list[str] = field(default_factory=list)
    units: list[UnitSpec] = field(default_factory=list)


class _Reader:
    def __init__(self, path: str):
        self.path = path

    def fail(self, message: str, m: Any = None, key: str | None = None):
        raise CampaignFileError(message, _line(m, key), key, self.path)

    def mapping(self, m: Any, key: str, required: bool = True) -> _Mapping:
        value = m.get(key) if isinstance(m, dict) else None
        if value is None:
            if required:
                self.fail("is required", m, key)
            return _Mapping()
        if not isinstance(value, dict):
            self.fail("must be a mapping (key: value lines)", m, key)
        return value

    def text(self, m: dict, key: str, required: bool = True, default: str = "") -> str:
        value = m.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail("is required", m, key)
            return default
        if isinstance(value, (dict, list)):
            self.fail("must be text", m, key)
        return str(value).strip()

    def code(self, m: dict, key: str) -> str:
        value = self.text(m, key)
        if not CODE_RE.match(value) or len(value) > 64:
            self.fail(f"{value!r} is not a valid code (letters, digits, . _ -; at most 64)", m, key)
        if value.lower() in RESERVED_CODES:
            self.fail(f"{value!r} is reserved by the web pages; choose another code", m, key)
        return value

    def day(self, m: dict, key: str, required: bool = True) -> date | None:
        value = m.get(key)
        if value is None:
            if required:
                self.fail("is required", m, key)
            return None
        if isinstance(value, datetime):
            self.fail("must be a date (YYYY-MM-DD), not a date and time", m, key)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a valid date (YYYY-MM-DD)", m, key)
        return None

    def integer(self, m: dict, key: str, required: bool = True, default: int = 0, minimum: int | None = None) -> int:
        value = m.get(key)
        if value is None:
            if required:
                self.fail("is required", m, key)
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{value!r} is not a whole number", m, key)
        if minimum is not None and value < minimum:
            self.fail(f"must be at least {minimum}", m, key)
        return value

    def number(self, m: dict, key: str) -> Decimal | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            self.fail(f"{value!r} is not a number", m, key)
        try:
            return Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not a number", m, key)
        return None

    def emails(self, m: dict, key: str) -> list[str]:
        value = m.get(key)
        if value is None:
            return []
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            self.fail("must be an e-mail address or a list of them", m, key)
        out = []
        for v in values:
            v = str(v).strip()
            if not is_email(v):
                self.fail(f"{v!r} is not an e-mail address", m, key)
            out.append(v)
        return out


KNOWN_KEYS = {
    "top": {"organizer", "campaign", "units"},
    "organizer": {"code", "name", "province", "email"},
    "campaign": {"code", "title", "year", "deadline", "grace_working_days", "document", "data_period", "state",
                 "commune_nomination", "milestones", "tiers", "required_documents", "reminders", "council_emails"},
    "document": {"number", "date"},
    "data_period": {"start", "end"},
    "unit": {"code", "name", "group", "emails", "head_email", "parent", "language", "self_score"},
    "tier": {"name", "name_en", "min"},
    "range": {"start", "end"},
}


def _known(r: _Reader, m: Any, kind: str) -> None:
    """A misspelt key is an error, not silently dropped."""
    if not isinstance(m, dict):
        return
    for key in m:
        if key not in KNOWN_KEYS[kind]:
            close = difflib.get_close_matches(str(key), KNOWN_KEYS[kind], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(sorted(KNOWN_KEYS[kind]))}"
            r.fail(f"unknown key{hint}", m, key)


def parse(text: str, path: str = "") -> CampaignSpec:
    """Check a campaign file whole; raise CampaignFileError at the first problem."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CampaignFileError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                mark.line + 1 if mark else None, None, path) from None
    r = _Reader(path)
    if not isinstance(doc, dict):
        r.fail("the file must be a mapping with 'organizer', 'campaign' and 'units'")
    _known(r, doc, "top")
    org = r.mapping(doc, "organizer")
    _known(r, org, "organizer")
    organizer = {"code": r.code(org, "code"), "name": r.text(org, "name"), "province": r.text(org, "province", False),
                 "email": ""}
    if org.get("email"):
        organizer["email"] = r.emails(org, "email")[0]
    c = r.mapping(doc, "campaign")
    _known(r, c, "campaign")
    spec = CampaignSpec(
        organizer=organizer, code=r.code(c, "code"), title=r.text(c, "title"), year=r.integer(c, "year", minimum=1990),
        deadline=r.day(c, "deadline"), grace_working_days=r.integer(c, "grace_working_days", minimum=0))
    if spec.grace_working_days > 60:
        r.fail("more than 60 working days of grace is not plausible", c, "grace_working_days")
    if "document" in c:
        d = r.mapping(c, "document")
        _known(r, d, "document")
        spec.document_number = r.text(d, "number", False)
        spec.document_date = r.day(d, "date", False)
    if "data_period" in c:
        d = r.mapping(c, "data_period")
        _known(r, d, "data_period")
        spec.data_period = (r.day(d, "start", False), r.day(d, "end", False))
        if all(spec.data_period) and spec.data_period[0] > spec.data_period[1]:
            r.fail("start is after end", d, "start")
    spec.state = r.text(c, "state", False, "open")
    if spec.state not in ("draft", "open"):
        r.fail("must be draft or open (later states are reached in the app)", c, "state")
    spec.commune_nomination = c.get("commune_nomination", False)
    if not isinstance(spec.commune_nomination, bool):
        r.fail("must be true or false", c, "commune_nomination")
    ms = r.mapping(c, "milestones", required=False)
    for kind, value in ms.items():
        if kind not in MILESTONES:
            r.fail(f"unknown milestone; known: {', '.join(MILESTONES)}", ms, kind)
        if isinstance(value, (date, str)) and not isinstance(value, dict):
            spec.milestones[kind] = (None, r.day(ms, kind))
            continue
        if not isinstance(value, dict):
            r.fail("must be a date or a mapping with start and end", ms, kind)
        _known(r, value, "range")
        start, end = r.day(value, "start", False), r.day(value, "end")
        if start and start > end:
            r.fail("start is after end", value, "start")
        spec.milestones[kind] = (start, end)
    if "tiers" in c:
        tiers = c["tiers"]
        if not isinstance(tiers, list) or not tiers:
            r.fail("must be a list of {name, min}", c, "tiers")
        spec.tiers = []
        previous = None
        for t in tiers:
            if not isinstance(t, dict):
                r.fail("each tier must be a mapping {name, min}", c, "tiers")
            _known(r, t, "tier")
            name = r.text(t, "name")
            minimum = r.number(t, "min")
            if minimum is not None and previous is not None and minimum >= previous:
                r.fail("tiers must be listed best first, with decreasing minimums", t, "min")
            previous = minimum
            spec.tiers.append({"name": name, "name_en": r.text(t, "name_en", False, name),
                               "min": float(minimum) if minimum is not None else None})
    if "reminders" in c:
        try:
            spec.reminder_rules = ReminderRules.from_dict(r.mapping(c, "reminders")).as_dict()
        except RulesError as exc:
            r.fail(str(exc), c, "reminders")
    spec.council_emails = r.emails(c, "council_emails")
    docs = r.mapping(c, "required_documents", required=False)
    for group, names in docs.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            r.fail("must be a list of document names", docs, group)
        spec.required_documents[str(group)] = names
    units = doc.get("units")
    if not isinstance(units, list) or not units:
        r.fail("must be a non-empty list of units", doc, "units")
    seen: dict[str, int | None] = {}
    for u in units:
        if not isinstance(u, dict):
            r.fail("each unit must be a mapping", doc, "units")
        _known(r, u, "unit")
        code = r.code(u, "code")
        if code in seen:
            r.fail(f"unit {code!r} is listed twice (first at line {seen[code]})", u, "code")
        seen[code] = _line(u)
        group = r.text(u, "group")
        if not CODE_RE.match(group):
            r.fail(f"{group!r} is not a valid group code", u, "group")
        language = r.text(u, "language", False, "vi")
        if language not in ("vi", "en"):
            r.fail("must be vi or en", u, "language")
        spec.units.append(UnitSpec(code=code, name=r.text(u, "name"), group=group, emails=r.emails(u, "emails"),
                                   head_email=(r.emails(u, "head_email") or [""])[0],
                                   parent=r.text(u, "parent", False) or None, language=language,
                                   self_score=r.number(u, "self_score"), line=_line(u)))
    for u in spec.units:
        if u.parent and u.parent not in seen:
            raise CampaignFileError(f"parent {u.parent!r} is not a unit of this file", u.line, "parent", path)
        if u.parent == u.code:
            raise CampaignFileError("a unit cannot be its own parent", u.line, "parent", path)
    return spec


@dataclass(frozen=True)
class ImportResult:
    campaign: Campaign
    created: bool
    units_added: int
    units_updated: int


def apply(spec: CampaignSpec, *, actor: str, now: datetime, source: str = "") -> ImportResult:
    """Load or update a campaign from a checked spec (the caller commits)."""
    org = db.session.scalar(select(Organizer).where(Organizer.code == spec.organizer["code"]))
    if org is None:
        org = Organizer(code=spec.organizer["code"], name=spec.organizer["name"],
                        province=spec.organizer.get("province", ""), email=spec.organizer.get("email", ""))
        db.session.add(org)
        db.session.flush()
    else:
        org.name = spec.organizer["name"]
        org.province = spec.organizer.get("province") or org.province
        org.email = spec.organizer.get("email") or org.email
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == spec.code))
    created = campaign is None
    if campaign is not None and campaign.organizer_id != org.id:
        raise CampaignFileError(f"campaign {spec.code!r} belongs to another organizer", None, "code", source)
    reason = f"import from {Path(source).name}" if source else "import"
    if created:
        campaign = Campaign(organizer_id=org.id, code=spec.code, title=spec.title, year=spec.year,
                            deadline=spec.deadline, grace_working_days=spec.grace_working_days, state="draft")
        db.session.add(campaign)
    else:
        for attr, new in (("deadline", spec.deadline), ("grace_working_days", spec.grace_working_days)):
            old = getattr(campaign, attr)
            if old != new:
                if campaign.state not in ("draft", "open", "grace"):
                    raise CampaignFileError(f"cannot change {attr} once submissions are closed "
                                            f"(campaign is {campaign.state})", None, attr, source)
                record(actor=actor, action="milestone.moved", organizer_id=org.id, campaign_id=campaign.id,
                       from_value=f"{attr} {old}", to_value=f"{attr} {new}", reason=reason, at=now)
        campaign.deadline, campaign.grace_working_days = spec.deadline, spec.grace_working_days
        campaign.title, campaign.year = spec.title, spec.year
    campaign.document_number, campaign.document_date = spec.document_number, spec.document_date
    campaign.data_period_start, campaign.data_period_end = spec.data_period
    campaign.tiers, campaign.required_documents = spec.tiers, spec.required_documents
    campaign.commune_nomination = spec.commune_nomination
    campaign.reminder_rules, campaign.council_emails = spec.reminder_rules, spec.council_emails
    db.session.flush()
    existing = {m.kind: m for m in campaign.milestones}
    for kind, (start, end) in spec.milestones.items():
        m = existing.get(kind)
        if m is None:
            campaign.milestones.append(Milestone(kind=kind, start_date=start, end_date=end))
        elif (m.start_date, m.end_date) != (start, end):
            record(actor=actor, action="milestone.moved", organizer_id=org.id, campaign_id=campaign.id,
                   from_value=f"{kind} {m.start_date or ''}..{m.end_date}", to_value=f"{kind} {start or ''}..{end}",
                   reason=reason, at=now)
            m.start_date, m.end_date = start, end
    for kind, m in existing.items():
        if kind not in spec.milestones:
            record(actor=actor, action="milestone.removed", organizer_id=org.id, campaign_id=campaign.id,
                   from_value=f"{kind} {m.start_date or ''}..{m.end_date}", reason=reason, at=now)
            campaign.milestones.remove(m)
    units = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == org.id))}
    added = updated = 0
    for us in spec.units:
        unit = units.get(us.code)
        if unit is None:
            unit = units[us.code] = Unit(organizer_id=org.id, code=us.code, name=us.name, group=us.group)
            db.session.add(unit)
            added += 1
        else:
            updated += 1
        unit.name, unit.group, unit.emails = us.name, us.group, us.emails
        unit.head_email, unit.language = us.head_email, us.language
    db.session.flush()
    for us in spec.units:
        units[us.code].parent_id = units[us.parent].id if us.parent else None
    participations = {p.unit_id: p for p in campaign.participations}
    wanted = {units[us.code].id: us for us in spec.units}
    for unit_id, us in wanted.items():
        p = participations.get(unit_id)
        if p is None:
            p = Participation(unit_id=unit_id, status="not_submitted")
            campaign.participations.append(p)
        if us.self_score is not None:
            p.self_score = us.self_score
    for unit_id, p in participations.items():
        if unit_id not in wanted:
            if p.submissions:
                unit = db.session.get(Unit, unit_id)
                raise CampaignFileError(f"unit {unit.code!r} has a dossier in this campaign and cannot be removed "
                                        "from it", None, "units", source)
            campaign.participations.remove(p)
    db.session.flush()
    if created:
        record(actor=actor, action="campaign.created", organizer_id=org.id, campaign_id=campaign.id,
               to_value=f"{len(spec.units)} units, deadline {spec.deadline}", reason=reason, at=now)
        if spec.state == "open":
            campaign.state = "open"
            record(actor=actor, action="campaign.launch", organizer_id=org.id, campaign_id=campaign.id,
                   from_value="draft", to_value="open", reason=reason, at=now)
    else:
        record(actor=actor, action="campaign.updated", organizer_id=org.id, campaign_id=campaign.id,
               to_value=f"{len(spec.units)} units", reason=reason, at=now)
    db.session.flush()
    return ImportResult(campaign, created, added, updated)


def import_file(path: str | Path, *, actor: str, now: datetime) -> ImportResult:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignFileError("no such file", path=str(path)) from None
    except UnicodeDecodeError:
        raise CampaignFileError("not UTF-8 text", path=str(path)) from None
    return apply(parse(text, str(path)), actor=actor, now=now, source=str(path))


def export(campaign: Campaign) -> str:
    """The campaign as a YAML file that ``import`` reads back to the same campaign."""
    org = campaign.organizer
    doc: dict[str, Any] = {
        "organizer": {"code": org.code, "name": org.name, "province": org.province, **({"email": org.email}
                                                                                      if org.email else {})},
        "campaign": {
            "code": campaign.code, "title": campaign.title, "year": campaign.year,
            "document": {"number": campaign.document_number, "date": campaign.document_date},
            "data_period": {"start": campaign.data_period_start, "end": campaign.data_period_end},
            "deadline": campaign.deadline, "grace_working_days": campaign.grace_working_days,
            "state": "draft" if campaign.state == "draft" else "open",
            "commune_nomination": campaign.commune_nomination,
            "milestones": {m.kind: ({"start": m.start_date, "end": m.end_date} if m.start_date else {"end": m.end_date})
                           for m in sorted(campaign.milestones, key=lambda m: list(MILESTONES).index(m.kind))},
            "tiers": [{k: v for k, v in t.items() if v is not None or k == "min"} for t in campaign.tiers],
            "required_documents": campaign.required_documents,
            **({"reminders": campaign.reminder_rules} if campaign.reminder_rules else {}),
            **({"council_emails": list(campaign.council_emails)} if campaign.council_emails else {}),
        },
        "units": [],
    }
    for p in sorted(campaign.participations, key=lambda p: (p.unit.group, p.unit.code)):
        u = p.unit
        entry: dict[str, Any] = {"code": u.code, "name": u.name, "group": u.group}
        if u.parent:
            entry["parent"] = u.parent.code
        if u.emails:
            entry["emails"] = list(u.emails)
        if u.head_email:
            entry["head_email"] = u.head_email
        if u.language != "vi":
            entry["language"] = u.language
        if p.self_score is not None:
            entry["self_score"] = float(p.self_score)
        doc["units"].append(entry)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)

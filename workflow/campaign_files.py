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
from typing import Any, NoReturn

import yaml
from sqlalchemy import select

from notifications.rules import ReminderRules, RulesError

from . import tally
from .addresses import is_email
from .audit import record
from .criteria import CriteriaSet, Criterion, Sheet
from .criteria_rules import KINDS, FlatNode, Rule, RuleError, build_tree, parent_code, rule_from_dict
from .db import db
from .models import Campaign, Milestone, Organizer, Participation, Unit
from .periods import DateOutOfRange, check_date, in_range
from .standing import DEFAULT_TIERS, PointsRefused, ScoringRefused, checked_points, checked_scoring, stored_points
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


class _Float(float):
    """A float that remembers how it was written: a criterion code 1.10 is not 1.1."""

    source: str = ""


def _construct_float(loader, node):
    value = _Float(yaml.SafeLoader.construct_yaml_float(loader, node))
    value.source = node.value
    return value


_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


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
    #: Without criteria, the highest score is score_maximum + score_bonus (``scoring`` in the file).
    score_maximum: Decimal = Decimal(100)
    score_bonus: Decimal = Decimal(0)
    #: A correction of a dossier received on time keeps its on-time standing (``corrections`` in the file).
    correction_keeps_on_time: bool = True
    required_documents: dict[str, list[str]] = field(default_factory=dict)
    reminder_rules: dict[str, Any] | None = None
    council_emails: list[str] = field(default_factory=list)
    units: list[UnitSpec] = field(default_factory=list)
    #: None: the file says nothing of criteria (a campaign's sets are left as they are).
    criteria: list[CriteriaSetSpec] | None = None


@dataclass
class CriteriaSetSpec:
    """A criteria set as written in a campaign file or an XLSX template (rows in order)."""

    code: str
    title: str
    groups: list[str]
    nodes: list[FlatNode]
    line: int | None = None


class _Reader:
    def __init__(self, path: str):
        self.path = path

    def fail(self, message: str, m: Any = None, key: str | None = None) -> NoReturn:
        raise CampaignFileError(message, _line(m, key), key, self.path)

    def mapping(self, m: Any, key: str, required: bool = True) -> _Mapping:
        value = m.get(key) if isinstance(m, dict) else None
        if value is None:
            if required:
                self.fail("is required", m, key)
            return _Mapping()
        if not isinstance(value, dict):
            self.fail("must be a mapping (key: value lines)", m, key)
        return value if isinstance(value, _Mapping) else _Mapping(value)

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
        if not isinstance(value, date):
            try:
                value = date.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a valid date (YYYY-MM-DD)", m, key)
        try:
            return check_date(value, key)
        except DateOutOfRange as exc:
            self.fail(exc.message_en, m, key)
        return None

    def points(self, m: dict, key: str, what: str) -> Decimal | None:
        """A number of points, read as a decimal (never through float) and bounded."""
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, float):  # YAML read it as a float: use the text it was written as
            value = repr(value)
        try:
            return checked_points(value, what)
        except PointsRefused as exc:
            self.fail(exc.message_en, m, key)
        return None

    def required_day(self, m: dict, key: str) -> date:
        value = self.day(m, key)
        assert value is not None  # day() fails on a missing required date
        return value

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
    "top": {"organizer", "campaign", "units", "criteria"},
    "criteria_set": {"code", "title", "groups", "items"},
    "criterion": {"code", "title", "max", "kind", "guidance", "groups", "na", "bands", "proportional", "levels",
                  "min_links", "not_above"},
    "organizer": {"code", "name", "province", "email"},
    "campaign": {"code", "title", "year", "deadline", "grace_working_days", "document", "data_period", "state",
                 "commune_nomination", "milestones", "tiers", "required_documents", "reminders", "council_emails",
                 "scoring", "corrections"},
    "scoring": {"maximum", "bonus"},
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
        deadline=r.required_day(c, "deadline"), grace_working_days=r.integer(c, "grace_working_days", minimum=0))
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
        first, last = r.day(d, "start", False), r.day(d, "end", False)
        spec.data_period = (first, last)
        if first and last and first > last:
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
            spec.milestones[kind] = (None, r.required_day(ms, kind))
            continue
        if not isinstance(value, dict):
            r.fail("must be a date or a mapping with start and end", ms, kind)
        _known(r, value, "range")
        start, end = r.day(value, "start", False), r.required_day(value, "end")
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
            minimum = r.points(t, "min", "min")
            if minimum is not None and previous is not None and minimum >= previous:
                r.fail("tiers must be listed best first, with decreasing minimums", t, "min")
            previous = minimum
            spec.tiers.append({"name": name, "name_en": r.text(t, "name_en", False, name),
                               "min": stored_points(minimum) if minimum is not None else None})
    if "scoring" in c:
        sc = r.mapping(c, "scoring")
        _known(r, sc, "scoring")
        maximum = r.points(sc, "maximum", "maximum")
        bonus = r.points(sc, "bonus", "bonus")
        try:
            spec.score_maximum, spec.score_bonus = checked_scoring(
                maximum if maximum is not None else spec.score_maximum, bonus if bonus is not None else spec.score_bonus)
        except ScoringRefused as exc:
            r.fail(exc.message_en, sc, "bonus")
    if "corrections" in c:
        value = c["corrections"]
        if value not in ("keep_on_time", "reclassify"):
            r.fail("must be keep_on_time (the default) or reclassify", c, "corrections")
        spec.correction_keeps_on_time = value == "keep_on_time"
    if "reminders" in c:
        try:
            spec.reminder_rules = checked_reminder_rules(r.mapping(c, "reminders"))
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
    if "criteria" in doc:
        spec.criteria = _criteria(r, doc, {u.group for u in spec.units})
    for u in spec.units:
        if u.parent and u.parent not in seen:
            raise CampaignFileError(f"parent {u.parent!r} is not a unit of this file", u.line, "parent", path)
        if u.parent == u.code:
            raise CampaignFileError("a unit cannot be its own parent", u.line, "parent", path)
    return spec


def _criterion_code(r: _Reader, m: dict) -> str:
    value = m.get("code")
    if isinstance(value, _Float):
        return value.source
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        r.fail("is required: a criterion code such as 1, 1.2 or '1.2.3'", m, "code")
    return str(value).strip()


def _criteria(r: _Reader, doc: dict, groups_here: set[str]) -> list[CriteriaSetSpec]:
    """The ``criteria:`` list: sets, each with its items in the order of the published sheet."""
    sets = doc.get("criteria")
    if not isinstance(sets, list) or not sets:
        r.fail("must be a list of criteria sets (code, title, groups, items)", doc, "criteria")
    out: list[CriteriaSetSpec] = []
    codes: set[str] = set()
    all_groups = False
    for cs in sets:
        if not isinstance(cs, dict):
            r.fail("each criteria set must be a mapping (code, title, groups, items)", doc, "criteria")
        _known(r, cs, "criteria_set")
        code = r.code(cs, "code")
        if code in codes:
            r.fail(f"criteria set {code!r} is listed twice", cs, "code")
        codes.add(code)
        groups = cs.get("groups") or []
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(g, str) and CODE_RE.match(g) for g in groups):
            r.fail("must be a list of group codes", cs, "groups")
        for g in groups:
            if g not in groups_here:
                r.fail(f"no unit of this file is in group {g!r}", cs, "groups")
        if not groups:
            if all_groups:
                r.fail("two sets apply to every group; give each its groups", cs, "groups")
            all_groups = True
        items = cs.get("items")
        if not isinstance(items, list) or not items:
            r.fail("must be a non-empty list of sections and criteria", cs, "items")
        nodes: list[FlatNode] = []
        lines: dict[str, int | None] = {}
        for item in items:
            if not isinstance(item, dict):
                r.fail("each item must be a mapping (code, title, max, kind, …)", cs, "items")
            _known(r, item, "criterion")
            ccode = _criterion_code(r, item)
            title = r.text(item, "title")
            maximum = r.number(item, "max")
            if maximum is None:
                r.fail("is required (the maximum points)", item, "max")
                continue  # not reached: fail raises
            kind = r.text(item, "kind", False)
            if kind and kind not in KINDS:
                r.fail(f"unknown kind {kind!r}; known: {', '.join(KINDS)}", item, "kind")
            rule_keys = {k: item[k] for k in ("bands", "proportional", "levels", "min_links", "not_above") if k in item}
            if isinstance(rule_keys.get("not_above"), _Float):
                rule_keys["not_above"] = rule_keys["not_above"].source
            if rule_keys and not kind:
                r.fail("a section or a criterion with sub-criteria has no rule; give a kind", item,
                       next(iter(rule_keys)))
            try:
                rule = rule_from_dict(kind, rule_keys, maximum) if kind else Rule()
            except RuleError as exc:
                r.fail(str(exc), item, exc.field if exc.field in item else "kind")
            na = item.get("na", False)
            if not isinstance(na, bool):
                r.fail("must be true or false (may the unit answer 'not applicable')", item, "na")
            igroups = item.get("groups") or []
            if isinstance(igroups, str):
                igroups = [igroups]
            if not isinstance(igroups, list):
                r.fail("must be a list of group codes", item, "groups")
            lines[ccode] = _line(item)
            nodes.append(FlatNode(ccode, title, maximum, kind, rule, r.text(item, "guidance", False),
                                  frozenset(str(g) for g in igroups), na))
        try:
            build_tree(nodes)
        except RuleError as exc:
            raise CampaignFileError(str(exc), lines.get(exc.code) or _line(cs), exc.field or "items",
                                    r.path) from None
        out.append(CriteriaSetSpec(code, r.text(cs, "title", False), [str(g) for g in groups], nodes, _line(cs)))
    return out


def parse_criteria(text: str, groups_here: set[str], path: str = "") -> list[CriteriaSetSpec]:
    """A file holding only ``criteria:`` (examples/criteria/*.yaml), checked as in a campaign file;
    ``groups_here`` are the groups of the campaign's units."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CampaignFileError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                mark.line + 1 if mark else None, None, path) from None
    r = _Reader(path)
    if not isinstance(doc, dict) or set(doc) != {"criteria"}:
        r.fail("a criteria file is a mapping with one key, 'criteria'", doc if isinstance(doc, dict) else None)
    return _criteria(r, doc, groups_here)


def criteria_dump(nodes: list[FlatNode]) -> list[dict[str, Any]]:
    """Items of a set as the campaign file writes them."""
    items = []
    for n in nodes:
        item: dict[str, Any] = {"code": n.code, "title": n.title, "max": _num(n.maximum)}
        if n.kind:
            item["kind"] = n.kind
            item.update({k: v for k, v in n.rule.as_dict().items()})
        if n.guidance:
            item["guidance"] = n.guidance
        if n.groups:
            item["groups"] = sorted(n.groups)
        if n.allow_na:
            item["na"] = True
        items.append(item)
    return items


def _num(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def set_nodes(cs: CriteriaSet) -> list[FlatNode]:
    return [c.flat() for c in cs.criteria]


def criteria_specs_of(campaign: Campaign) -> list[CriteriaSetSpec]:
    """The campaign's criteria sets as specs (definitions only: sections, criteria, maxima, kinds, rules,
    N/A flags, guidance, groups; never a unit's values), in their order."""
    sets = db.session.scalars(select(CriteriaSet).where(CriteriaSet.campaign_id == campaign.id)
                              .order_by(CriteriaSet.position, CriteriaSet.id)).all()
    return [CriteriaSetSpec(cs.code, cs.title or "", list(cs.groups or []), set_nodes(cs)) for cs in sets]


def replace_criteria(campaign: Campaign, sets: list[CriteriaSetSpec], *, actor: str, now: datetime,
                     reason: str = "import", source: str = "") -> bool:
    """Make the campaign's criteria sets these; False when they already are.

    Refused once a unit has a sheet (saved or submitted): the scores it was
    given would change under it.
    """
    current = db.session.scalars(select(CriteriaSet).where(CriteriaSet.campaign_id == campaign.id)
                                 .order_by(CriteriaSet.position, CriteriaSet.id)).all()

    def shape(code: str, title: str, groups: list[str], nodes: list[FlatNode]) -> tuple:
        return (code, title, tuple(groups), repr(criteria_dump(nodes)))
    if [shape(c.code, c.title, list(c.groups), set_nodes(c)) for c in current] == \
            [shape(s.code, s.title, s.groups, s.nodes) for s in sets]:
        return False
    if current and db.session.scalar(select(Sheet.id).where(Sheet.set_id.in_([c.id for c in current])).limit(1)):
        raise CampaignFileError("the criteria cannot change once units have filled sheets in this campaign",
                                None, "criteria", source)
    for c in current:
        db.session.delete(c)
    db.session.flush()
    for position, s in enumerate(sets):
        cs = CriteriaSet(campaign_id=campaign.id, code=s.code, title=s.title, groups=s.groups, position=position)
        for i, n in enumerate(s.nodes):
            cs.criteria.append(Criterion(position=i, code=n.code, parent_code=parent_code(n.code), title=n.title,
                                         maximum=n.maximum, kind=n.kind,
                                         rule=n.rule.as_dict() if n.kind else {}, guidance=n.guidance,
                                         groups=sorted(n.groups), allow_na=n.allow_na))
        db.session.add(cs)
    record(actor=actor, action="criteria.replaced", organizer_id=campaign.organizer_id, campaign_id=campaign.id,
           from_value=f"{len(current)} set(s)",
           to_value="; ".join(f"{s.code}: {sum(1 for n in s.nodes if n.kind)} criteria" for s in sets),
           reason=reason, at=now)
    db.session.flush()
    return True


@dataclass(frozen=True)
class ImportResult:
    campaign: Campaign
    created: bool
    units_added: int
    units_updated: int


def checked_reminder_rules(data: dict[str, Any] | None) -> dict[str, Any]:
    """Reminder settings (a file's ``reminders``, the setup form's, the CLI's) read by the one parser of
    ``notifications.rules`` and written out in full; ``RulesError`` (with its key and Vietnamese message)
    when refused."""
    if data is not None and not isinstance(data, dict):
        raise RulesError("must be a mapping of reminder settings", "", "Quy tắc nhắc hạn không hợp lệ.")
    return ReminderRules.from_dict(data).as_dict()


def _check_values(spec: CampaignSpec, source: str) -> None:
    dates = [("deadline", spec.deadline), ("document_date", spec.document_date),
             ("data_period", spec.data_period[0]), ("data_period", spec.data_period[1])]
    dates += [(kind, day) for kind, pair in spec.milestones.items() for day in pair]
    for what, day in dates:
        if day is not None and not in_range(day):
            raise CampaignFileError(DateOutOfRange(day, what).message_en, None, what, source)
    try:
        for tier in spec.tiers:
            if tier.get("min") is not None:
                checked_points(tier["min"], "min")
        checked_scoring(spec.score_maximum, spec.score_bonus)
    except (PointsRefused, ScoringRefused) as exc:
        raise CampaignFileError(exc.message_en, None, "tiers", source) from None
    if spec.reminder_rules is not None:
        try:
            checked_reminder_rules(spec.reminder_rules)
        except RulesError as exc:
            raise CampaignFileError(str(exc), None, "reminders", source) from None


def apply(spec: CampaignSpec, *, actor: str, now: datetime, source: str = "") -> ImportResult:
    """Load or update a campaign from a checked spec (the caller commits).

    The dates and points of a spec built by a form (not read by ``parse``) are checked here, by the same
    rules: one date range (periods.check_date), points as bounded decimals (standing.checked_points)."""
    _check_values(spec, source)
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
    found = db.session.scalar(select(Campaign).where(Campaign.code == spec.code))
    created = found is None
    if found is not None and found.organizer_id != org.id:
        raise CampaignFileError(f"campaign {spec.code!r} belongs to another organizer", None, "code", source)
    reason = f"import from {Path(source).name}" if source else "import"
    if found is None:
        campaign = Campaign(organizer_id=org.id, code=spec.code, title=spec.title, year=spec.year,
                            deadline=spec.deadline, grace_working_days=spec.grace_working_days, state="draft")
        db.session.add(campaign)
    else:
        campaign = found
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
    assert campaign is not None
    campaign.score_maximum, campaign.score_bonus = spec.score_maximum, spec.score_bonus
    campaign.correction_keeps_on_time = spec.correction_keeps_on_time
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
                unit = db.session.get_one(Unit, unit_id)
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
    if spec.criteria is not None and campaign is not None:
        replace_criteria(campaign, spec.criteria, actor=actor, now=now, reason=reason, source=source)
    db.session.flush()
    tally.compact_tallies()  # a row per cell, not per unit imported, before the next tick folds them
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


def stored_units(organizer_id: int) -> dict[int, Unit]:
    """Every unit of the organizer, by id, in one query."""
    return {u.id: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == organizer_id))}


def unit_spec(u: Unit, units: dict[int, Unit]) -> UnitSpec:
    """A stored unit as a spec (its parent looked up in ``units``)."""
    parent = units.get(u.parent_id) if u.parent_id else None
    return UnitSpec(code=u.code, name=u.name, group=u.group, emails=list(u.emails or []), head_email=u.head_email or "",
                    parent=parent.code if parent else None, language=u.language or "vi")


def organizer_dict(organizer: Organizer) -> dict[str, str]:
    return {"code": organizer.code, "name": organizer.name, "province": organizer.province or "",
            "email": organizer.email or ""}


def spec_of(campaign: Campaign, units: dict[int, Unit] | None = None) -> CampaignSpec:
    """The campaign as it is stored, as a spec that ``apply`` writes back unchanged."""
    units = units if units is not None else stored_units(campaign.organizer_id)
    unit_ids = db.session.scalars(select(Participation.unit_id).where(Participation.campaign_id == campaign.id)).all()
    return CampaignSpec(
        organizer=organizer_dict(campaign.organizer), code=campaign.code, title=campaign.title, year=campaign.year,
        deadline=campaign.deadline, grace_working_days=campaign.grace_working_days,
        document_number=campaign.document_number or "", document_date=campaign.document_date,
        data_period=(campaign.data_period_start, campaign.data_period_end),
        state="draft" if campaign.state == "draft" else "open", commune_nomination=bool(campaign.commune_nomination),
        milestones={m.kind: (m.start_date, m.end_date) for m in campaign.milestones},
        tiers=list(campaign.tiers or DEFAULT_TIERS), required_documents=dict(campaign.required_documents or {}),
        reminder_rules=campaign.reminder_rules, council_emails=list(campaign.council_emails or []),
        score_maximum=Decimal(campaign.score_maximum if campaign.score_maximum is not None else 100),
        score_bonus=Decimal(campaign.score_bonus or 0),
        correction_keeps_on_time=campaign.correction_keeps_on_time is not False,
        units=sorted((unit_spec(units[i], units) for i in unit_ids), key=lambda u: u.code))


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
            **({"scoring": {"maximum": stored_points(Decimal(campaign.score_maximum)),
                            "bonus": stored_points(Decimal(campaign.score_bonus))}}
               if (campaign.score_maximum, campaign.score_bonus) != (100, 0) else {}),
            **({"corrections": "reclassify"} if campaign.correction_keeps_on_time is False else {}),
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
    sets = db.session.scalars(select(CriteriaSet).where(CriteriaSet.campaign_id == campaign.id)
                              .order_by(CriteriaSet.position, CriteriaSet.id)).all()
    if sets:
        doc["criteria"] = [{"code": cs.code, **({"title": cs.title} if cs.title else {}),
                            **({"groups": list(cs.groups)} if cs.groups else {}),
                            "items": criteria_dump(set_nodes(cs))} for cs in sets]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)

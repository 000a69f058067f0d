"""What the organizer's pages read, in a number of queries that does not grow with the units.

Every function here issues a fixed number of statements: the units of a
campaign are loaded once (and kept referenced, so that ``Participation.unit``
is answered from the session's identity map), counts come from grouped
queries, lists are limited or paginated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    case,
    event,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from . import standing
from .campaigns import CHANNELS, calendar_of, milestone_dates, timeline_of, tz_of
from .db import db, planned_for_its_values
from .models import (
    AuditEvent,
    CalendarOverride,
    Campaign,
    HolidayDecision,
    Participation,
    StandingTally,
    Submission,
    Unit,
)
from .standing import status_name
from .timeline import compute, effective_state
from .unit_files import ResultRow, group_label
from .workdays import VietnamCalendar

#: Groups in the order the letters list them; others follow alphabetically.
GROUP_ORDER = ("department", "vertical", "district", "commune")
#: Sort keys of the units table.
SORTS = ("code", "name", "group", "status", "received", "late", "reminders", "rating")
STATUS_ORDER = {s: i for i, s in enumerate(standing.STATUSES)}


def fold(text: str) -> str:
    """Lower case without diacritics: "Sở Tài chính" → "so tai chinh"."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def group_key(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group), "") if group in GROUP_ORDER else (len(GROUP_ORDER), group)


# -- folding in SQL -----------------------------------------------------------

def _fold_map() -> tuple[str, str]:
    """Every precomposed Latin letter whose fold is one ASCII letter: the table ``translate`` uses."""
    src, dst = [], []
    for cp in range(0xC0, 0x1EFA):
        ch = chr(cp)
        f = fold(ch)
        if len(f) == 1 and f.isascii() and f.isalpha() and f != ch:
            src.append(ch)
            dst.append(f)
    return "".join(src), "".join(dst)


FOLD_FROM, FOLD_TO = _fold_map()


class folded(FunctionElement):
    """``fold(text)`` in SQL: SQLite calls the Python function (registered on connect); PostgreSQL
    maps the precomposed Vietnamese letters with ``translate`` then lowers ASCII."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded_sqlite(element, compiler, **kw):
    return f"hc_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_pg(element, compiler, **kw):
    return (f"lower(translate({compiler.process(element.clauses, **kw)}, "
            f"{compiler.process(literal(FOLD_FROM), literal_binds=True)}, "
            f"{compiler.process(literal(FOLD_TO), literal_binds=True)}))")


@event.listens_for(Engine, "connect")
def _sqlite_fold_function(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function("hc_fold", 1, lambda t: None if t is None else fold(t),
                                         deterministic=True)


class local_day(FunctionElement):
    """The local calendar day of a stored UTC instant: PostgreSQL converts with the zone's rules;
    SQLite (instants stored as naive UTC text) shifts by the zone's current offset (Viet Nam keeps
    UTC+7 all year)."""

    type = String()
    inherit_cache = True


def _day_parts(element, compiler, **kw):
    column, zone = element.clauses.clauses
    return compiler.process(column, **kw), zone.value


@compiles(local_day)
def _local_day_sqlite(element, compiler, **kw):
    column, zone = _day_parts(element, compiler, **kw)
    offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
    return f"date({column}, '{int(offset.total_seconds() // 60):+d} minutes')"


@compiles(local_day, "postgresql")
def _local_day_pg(element, compiler, **kw):
    column, zone = _day_parts(element, compiler, **kw)
    return f"to_char(({column}) AT TIME ZONE {compiler.process(literal(zone), literal_binds=True)}, 'YYYY-MM-DD')"


def received_per_day(campaign: Campaign) -> dict[date, int]:
    """Dossiers received per local day (each unit's current dossier, by when it was received): one
    grouped statement.  The chart in workflow/received_chart.py draws it; the digest can reuse both."""
    day = local_day(Participation.received_at, literal(campaign.organizer.timezone or "Asia/Ho_Chi_Minh"))
    rows = db.session.execute(select(day, func.count()).where(
        Participation.campaign_id == campaign.id, Participation.received_at.is_not(None)).group_by(day)).all()
    return {date.fromisoformat(str(d)[:10]): n for d, n in rows if d}


def _bytewise(column):
    """Order as Python compares strings (code points): PostgreSQL's "C" collation; SQLite's default."""
    return column.collate("C") if db.engine.dialect.name == "postgresql" else column


# -- where units stand, in SQL -------------------------------------------------

def silent_sql():
    """Recorded as not submitted and not reinstated: what grace's end excludes."""
    # (no reason written as IS NULL OR = '', not coalesce(…) = '': PostgreSQL estimates the share of rows
    # this holds only for a plain column, and then walks units in code order for the exclusion preview)
    return and_(Participation.status == "not_submitted",
                or_(Participation.reinstated_reason.is_(None), Participation.reinstated_reason == ""))


def effective_status_sql(grace_ended: bool):
    """``standing.effective_status`` as a column: silence past grace is exclusion (unless reinstated)."""
    if not grace_ended:
        return Participation.status
    return case((silent_sql(), "excluded"), else_=Participation.status)


def _eligible(nomination: bool, grace_ended: bool):
    """Who is rated and ranked: not excluded (nor silent, which grace's end makes excluded), with a score;
    with commune nomination only nominees (and units without a parent)."""
    P, U = Participation, Unit
    score = func.coalesce(P.verified_score, P.self_score)
    eligible = and_(effective_status_sql(grace_ended).not_in(("excluded", "not_submitted")), score.is_not(None))
    if nomination:
        eligible = and_(eligible, or_(U.parent_id.is_(None), P.nominated.is_(True)))
    return eligible


def _ranks(nomination: bool, grace_ended: bool):
    """(participation id, rank) of the ranked units only: ``RANK()`` within each group by score, over
    narrow rows (a unit's id, group and score), so that the window sorts in memory what is ranked, not
    every unit's whole row."""
    P, U = Participation, Unit
    score = func.coalesce(P.verified_score, P.self_score)
    return (select(P.id.label("rid"), func.rank().over(partition_by=U.group, order_by=score.desc()).label("rank"))
            .select_from(P).join(U, U.id == P.unit_id)
            .where(*_of_campaign(), _eligible(nomination, grace_ended)).subquery("ranks"))


def _standing_select(nomination: bool, grace_ended: bool, *, ranked: bool = True):
    """One row per unit of the campaign (bound when it runs: ``_bound``), with its effective status, score
    and (when ``ranked``) rank; ``nomination``: the campaign's ``commune_nomination``.

    The same rules as ``campaigns.results`` (tests/test_dashboard_sql.py proves them equal on varied
    data): the verified score counts, else the self-assessed; excluded and silent units are neither
    rated nor ranked; with commune nomination only nominees (and units without a parent) are ranked;
    ties share a rank (``RANK()``), within each group.
    """
    P, U = Participation, Unit
    status = effective_status_sql(grace_ended).label("status")
    score = func.coalesce(P.verified_score, P.self_score)
    columns = [P.id.label("pid"), P.unit_id.label("unit_id"), U.code.label("code"), U.name.label("name"),
               U.group.label("grp"), U.parent_id.label("parent_id"), status, P.status.label("recorded"),
               P.received_at.label("received_at"), P.late_working_days.label("late_days"),
               P.self_score.label("self_score"), P.verified_score.label("verified_score"),
               P.nominated.label("nominated"), P.reinstated_reason.label("reinstated_reason"),
               P.returned_reason.label("returned_reason"), P.corrected_at.label("corrected_at"), score.label("score")]
    query = select(*columns).select_from(P).join(U, U.id == P.unit_id)
    if ranked:
        ranks = _ranks(nomination, grace_ended)
        query = query.add_columns(ranks.c.rank).outerjoin(ranks, ranks.c.rid == P.id)
    return query.where(*_of_campaign())


def _of_campaign() -> tuple:
    """The campaign's participations joined to their units, the campaign bound when the statement runs
    (``_bound``).  The organizer's condition on the unit is implied (a campaign's units are its organizer's)
    but stated, so that PostgreSQL reads that organizer's units by their index instead of scanning every
    unit of the installation to join them: 26 → 5.5 ms for the counts of a 5,000-unit campaign among 55,500
    units (EXPLAIN ANALYZE, bench/profile_pages.py)."""
    return (Participation.campaign_id == bindparam("campaign_id", type_=Integer),
            Unit.organizer_id == bindparam("organizer_id", type_=Integer))


def _bound(campaign: Campaign, **more) -> dict:
    """The parameters of a statement made of ``_of_campaign``: that campaign (and ``more``)."""
    return {"campaign_id": campaign.id, "organizer_id": campaign.organizer_id, **more}


def _dialect() -> str:
    """Part of every prepared statement's shape: ``_bytewise`` orders differently on each database."""
    return db.engine.dialect.name


@dataclass(frozen=True)
class UnitBrief:
    id: int
    code: str
    name: str
    group: str
    parent_id: int | None


@dataclass(frozen=True)
class ParticipationBrief:
    id: int
    unit_id: int
    status: str
    received_at: datetime | None
    late_working_days: int
    self_score: Decimal | None
    verified_score: Decimal | None
    nominated: bool
    reinstated_reason: str
    returned_reason: str
    #: A correction that kept the on-time standing (issue 13): its own instant.
    corrected_at: datetime | None = None


@dataclass(frozen=True)
class UnitRow:
    """One line of the units table (what ``campaigns.Result`` says of a unit, and its unit)."""

    unit: UnitBrief
    participation: ParticipationBrief
    status: str
    reminders: int
    score: Decimal | None
    provisional: bool
    rating: str | None
    rank: int | None

    @property
    def received_at(self) -> datetime | None:
        return self.participation.received_at

    @property
    def late_days(self) -> int:
        return self.participation.late_working_days or 0


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _row(r, tiers: Sequence[dict], reminders: int = 0) -> UnitRow:
    unit = UnitBrief(r.unit_id, r.code, r.name, r.grp, r.parent_id)
    p = ParticipationBrief(r.pid, r.unit_id, r.recorded, r.received_at, r.late_days or 0, _decimal(r.self_score),
                           _decimal(r.verified_score), bool(r.nominated), r.reinstated_reason or "",
                           r.returned_reason or "", getattr(r, "corrected_at", None))
    score = _decimal(r.score)
    rank = getattr(r, "rank", None)
    return UnitRow(unit, p, r.status, reminders, score if r.status != "excluded" else None,
                   r.verified_score is None, standing.rating(score, tiers) if rank is not None else None,
                   int(rank) if rank is not None else None)


#: The urgency order: who must still act first.
URGENCY = {"not_submitted": 0, "returned": 1, "late": 2}


def _sort_keys(sort: str, c, tiers: Sequence[dict]):
    """(key expressions) for a sort; rows whose first key is NULL always come last."""
    if sort == "name":
        return [folded(c.name), _bytewise(c.name)]
    if sort == "group":
        return [case(*((c.grp == g, i) for i, g in enumerate(GROUP_ORDER)), else_=len(GROUP_ORDER)),
                _bytewise(c.grp)]
    if sort == "status":
        return [case(*((c.status == s, i) for s, i in STATUS_ORDER.items()), else_=len(STATUS_ORDER))]
    if sort == "received":
        return [c.received_at]
    if sort == "late":
        return [func.coalesce(c.late_days, 0)]
    if sort == "reminders":
        return [c.reminders]
    if sort == "rating":
        whens, fallback = [], None
        for i, tier in enumerate(tiers):
            if tier.get("min") is None:
                fallback = i
                break
            whens.append((c.score >= literal(Decimal(str(tier["min"])), Numeric(12, 4)), i))
        tier_index = case(*whens, else_=fallback) if whens else literal(fallback)
        return [case((c.rank.is_not(None), tier_index), else_=None), c.rank]
    if sort == "urgency":
        return [case(*((c.status == s, i) for s, i in URGENCY.items()), else_=len(URGENCY)),
                func.coalesce(c.late_days, 0).desc()]
    return []


def like_pattern(q: str) -> str:
    """The LIKE pattern of "contains ``q``" without diacritics, any case (``/`` escapes % and _), or ""."""
    needle = fold(q.strip())
    return "%" + needle.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%" if needle else ""


def _code_or_name_like(code, name, pattern):
    """Code or name matching ``pattern`` (``like_pattern``; a value or a bound parameter), folded."""
    return or_(folded(code).like(pattern, escape="/"), folded(name).like(pattern, escape="/"))


def unit_filters(c, *, group: str = "", status: str = "", q: str = "") -> list:
    """The units table's filters on the columns ``c`` of a standing select: group, effective status,
    code or name containing ``q`` (without diacritics, any case)."""
    return _filters(c, group or None, status or None, like_pattern(q) or None)


def _filters(c, group, status, pattern) -> list:
    """``unit_filters`` of values or bound parameters (a prepared statement's), ``None`` for no filter."""
    where = []
    if group is not None:
        where.append(c.grp == group)
    if status is not None:
        where.append(c.status == status)
    if pattern is not None:
        where.append(_code_or_name_like(c.code, c.name, pattern))
    return where


#: At most this many codes in one selection (a page of the table is 100): more is a filter.
MAX_SELECTED_CODES = 1000


@dataclass(frozen=True)
class UnitSelection:
    """The units a bulk action takes: the ones listed by code, or (``codes`` None) every unit matching
    the units table's filter, on every page; the server resolves it, the form never lists thousands."""

    group: str = ""
    status: str = ""
    q: str = ""
    codes: tuple[str, ...] | None = None

    def clauses(self, c) -> list:
        if self.codes is not None:
            return [c.code.in_(self.codes)] if self.codes else [literal(False)]
        return unit_filters(c, group=self.group, status=self.status, q=self.q)


@dataclass(frozen=True)
class SelectedUnit:
    unit: Unit
    participation_id: int
    status: str  # effective
    recorded: str  # as stored


def selected_units(campaign: Campaign, grace_ended: bool, selection: UnitSelection) -> list[SelectedUnit]:
    """Every unit of the selection with its effective status, in code order: one statement."""
    sub = _standing_select(campaign.commune_nomination, grace_ended, ranked=False).subquery("selected")
    rows = db.session.execute(
        select(Unit, sub.c.pid, sub.c.status, sub.c.recorded).join(sub, sub.c.unit_id == Unit.id)
        .where(*selection.clauses(sub.c)).order_by(_bytewise(sub.c.code)), _bound(campaign)).all()
    return [SelectedUnit(unit, pid, status, recorded) for unit, pid, status, recorded in rows]


@dataclass(frozen=True)
class UnitPage:
    rows: list[UnitRow]
    total: int  # rows matching the filters
    page: int
    pages: int


def unit_page(campaign: Campaign, grace_ended: bool, *, group: str = "", status: str = "", q: str = "",
              sort: str = "code", descending: bool = False, page: int = 1, per_page: int = 100,
              reminders=None, reminder_count=None, counts: Counts | None = None) -> UnitPage:
    """One page of the units table: filtered, sorted and cut in SQL.

    ``reminders``: a function of a campaign id (a bound parameter) giving a selectable (unit_id, n) of
    reminders sent, joined when sorting by them.  ``reminder_count``: otherwise, a function of a campaign
    id and a unit id column giving the reminders sent to that unit (a correlated count), asked for the
    page's rows only, in the same statement.  (Module-level functions: they are part of the prepared
    statement's shape.)
    ``counts``: this campaign's ``status_counts`` (same ``grace_ended``) when the caller has them: without
    a search they give the filtered total, and the page is one statement; sorted by group, status, days
    late or urgency, their cells also cut the page into pieces of tied rows read in code order
    (``_cell_pieces``), so that the page does not sort the campaign.  Unless sorted by rating, the page's
    rows are chosen first and only they are joined to the ranks.
    """
    tiers = campaign.tiers or standing.DEFAULT_TIERS
    sort = sort if sort in SORTS or sort == "urgency" else "code"
    pattern = like_pattern(q)
    values = _bound(campaign, group=group, status=status, pattern=pattern)
    if counts is not None and not pattern:
        if group:
            by_status = counts.by_group.get(group, {})
            total = by_status.get(status, 0) if status else sum(by_status.values())
        else:
            total = counts.by_status.get(status, 0) if status else counts.total
    else:  # the count needs no rank
        total = db.session.scalar(_count_statement(_dialect(), grace_ended, bool(group), bool(status),
                                                   bool(pattern)), values) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = min(max(page, 1), pages)
    offset = (page - 1) * per_page
    pieces = _cell_pieces(counts, sort, descending, group, status, offset, per_page) \
        if counts is not None and not pattern else None
    if pieces:
        statement = _page_statement(_dialect(), bool(campaign.commune_nomination), grace_ended, (), "", False,
                                    bool(group), bool(status), False, None, reminder_count,
                                    cell=CELL_ORDERS[sort][1], pieces=len(pieces))
        for i, piece in enumerate(pieces):
            values.update({f"{k}_{i}": v for k, v in piece.items() if k != "cut"})
        with planned_for_its_values():
            result = db.session.execute(statement, values).all()
        if any(piece["cut"] for piece in pieces):  # small pieces were read whole: their rows of the page
            result = [r for i, piece in enumerate(pieces)
                      for r in _cut([r for r in result if r.piece == i], piece["cut"])]
    else:
        mins = tuple(tier.get("min") for tier in tiers) if sort == "rating" else ()
        query = _page_statement(_dialect(), bool(campaign.commune_nomination), grace_ended, mins, sort, descending,
                                bool(group), bool(status), bool(pattern), reminders, reminder_count)
        with planned_for_its_values():
            result = db.session.execute(query, dict(values, limit=per_page, offset=offset)).all()
    rows = [_row(r, tiers, getattr(r, "reminders", 0) or 0) for r in result]
    return UnitPage(rows, total, page, pages)


#: The sorts whose order is a cell's (group, effective status, days late) and then the code: each as the key
#: of a cell in ascending order, and which of the cell's parts the key is made of.
CELL_ORDERS = {
    "group": (lambda grp, status, late: group_key(grp), (True, False, False)),
    "status": (lambda grp, status, late: (STATUS_ORDER.get(status, len(STATUS_ORDER)),), (False, True, False)),
    "late": (lambda grp, status, late: (late,), (False, False, True)),
    # Who must act first, and within each the latest first (``descending`` reverses the first part only).
    "urgency": (lambda grp, status, late: (URGENCY.get(status, len(URGENCY)), -late), (False, True, True)),
}
#: A page cut into more pieces than this is read with the one page statement instead.
MAX_PIECES = 8
#: A piece of at most this many rows is read whole and cut here: asked for "the first 2 in code order" of
#: 81 rows, PostgreSQL walks the units in code order expecting to meet them early, and where they lie at
#: the end it walks all 50,000 (104 ms); asked for all 81, it reads them by their index and sorts them.
SMALL_PIECE = 500


def _cut(rows: list, cut: tuple[int, int] | None) -> list:
    return rows if cut is None else rows[cut[0]:cut[0] + cut[1]]


def _cell_pieces(counts: Counts, sort: str, descending: bool, group: str, status: str, offset: int,
                 limit: int) -> list[dict] | None:
    """The page ``offset``/``limit`` of a table sorted by one of ``CELL_ORDERS``, as pieces read in code
    order, each the bound values of one run of the page statement made with ``cell`` (the groups,
    statuses or days late of the cells that tie on the sort key, the rows to skip and to take); ``None``
    for another sort or too many pieces.  All the rows of a piece tie on the sort key, so the code decides
    among them and a piece is an index range (PostgreSQL walks the organizer's units in code order, or the
    campaign's participations of a status), not a sort of every participation of the campaign."""
    if sort not in CELL_ORDERS:
        return None
    order = CELL_ORDERS[sort][0]
    together: dict[tuple, tuple[set[str], set[str], int, int]] = {}
    for (grp, st, late), n in counts.cells.items():
        if n <= 0 or (group and grp != group) or (status and st != status):
            continue
        key = order(grp, st, late)
        groups, statuses, _late, size = together.get(key, (set(), set(), late, 0))
        together[key] = (groups | {grp}, statuses | {st}, late, size + n)
    if descending and sort == "urgency":  # the class reversed, the latest first still
        keys = sorted(together, key=lambda k: (-k[0], k[1]))
    else:
        keys = sorted(together, reverse=descending)
    pieces: list[dict] = []
    start = taken = 0
    for key in keys:
        groups, statuses, late, size = together[key]
        skip = max(0, offset - start)
        take = min(size - skip, limit - taken)
        start += size
        if take > 0:
            small = take < size <= SMALL_PIECE
            pieces.append({"cell_groups": sorted(groups), "cell_statuses": sorted(statuses), "cell_late": late,
                           "offset": 0 if small else skip, "limit": size if small else take,
                           "cut": (skip, take) if small else None})
            taken += take
        if start >= offset + limit:
            break
    return pieces if len(pieces) <= MAX_PIECES else None


def _bound_filters(c, group: bool, status: bool, pattern: bool) -> list:
    return _filters(c, bindparam("group") if group else None, bindparam("status") if status else None,
                    bindparam("pattern") if pattern else None)


@cache
def _count_statement(dialect: str, grace_ended: bool, group: bool, status: bool, pattern: bool):
    """How many units the table's filters hold (bound: ``_bound`` with group, status, pattern)."""
    counted = _standing_select(False, grace_ended, ranked=False).subquery("counted")
    return select(func.count()).select_from(counted).where(*_bound_filters(counted.c, group, status, pattern))


@lru_cache(maxsize=1024)  # bounded: the tiers' minimums are each campaign's own
def _page_statement(dialect: str, nomination: bool, grace_ended: bool, mins: tuple, sort: str, descending: bool,
                    group: bool, status: bool, pattern: bool, reminders, reminder_count,
                    cell: tuple[bool, bool, bool] = (False, False, False), pieces: int = 0):
    """The units table's page statement, built once per shape (the filters given, the sort, the tiers'
    minimums when sorted by rating): building it and its cache key cost 4.6 of the 7.4 ms of CPU of a
    page of 100 rows.  Bound when it runs: ``_bound`` with group, status, pattern, limit, offset.

    ``pieces``: the page as ``_cell_pieces`` cuts it, ``cell`` saying which parts of a cell its pieces
    are given by: one member per piece in code order (bound: cell_groups_i, cell_statuses_i, cell_late_i,
    limit_i, offset_i), joined in the pieces' order; then ``sort`` and ``descending`` are not used."""
    by_rating = sort == "rating"
    campaign_id = bindparam("campaign_id", type_=Integer)
    inner = _standing_select(nomination, grace_ended, ranked=by_rating)
    if reminders is not None:
        rem = reminders(campaign_id).subquery("rem")
        inner = inner.add_columns(func.coalesce(rem.c.n, 0).label("reminders")).outerjoin(
            rem, rem.c.unit_id == Participation.unit_id)
    sub = inner.subquery("standing")
    tiers = [{"min": m} for m in mins]

    def order_of(c):
        if pieces:
            return [c.piece, _bytewise(c.code)]
        keys = _sort_keys(sort, c, tiers)
        order = []
        if keys and sort != "urgency":
            order.append(case((keys[0].is_(None), 1), else_=0))
            order += [k.desc() if descending else k for k in keys]
        elif keys:
            order += [k.desc() if descending else k for k in keys[:1]] + keys[1:]
        code = _bytewise(c.code)
        order.append(code.desc() if descending and not keys else code)
        return order

    where = _bound_filters(sub.c, group, status, pattern)
    if pieces:
        members = []
        for i in range(pieces):
            parts = [sub.c.grp.in_(bindparam(f"cell_groups_{i}", expanding=True))] if cell[0] else []
            if cell[1]:
                parts.append(sub.c.status.in_(bindparam(f"cell_statuses_{i}", expanding=True)))
            if cell[2]:
                parts.append(sub.c.late_days == bindparam(f"cell_late_{i}", type_=Integer))
            member = (select(sub, literal_column(str(i), Integer).label("piece")).where(*where, *parts)
                      .order_by(_bytewise(sub.c.code)).limit(bindparam(f"limit_{i}", type_=Integer))
                      .offset(bindparam(f"offset_{i}", type_=Integer)))
            members.append(select(member.subquery(f"piece_{i}")))  # (SQLite: no LIMIT on a compound's member)
        cut = union_all(*members).subquery("cut")
    else:
        cut = (select(sub).where(*where).order_by(*order_of(sub.c))
               .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))).subquery("cut")
    counted = reminders is None and reminder_count is not None
    if by_rating and not counted and not pieces:
        return select(cut).order_by(*order_of(cut.c))
    # What only the page's rows need, joined to the cut.
    query = select(cut)
    if not by_rating:
        ranks = _ranks(nomination, grace_ended)
        query = query.add_columns(ranks.c.rank).outerjoin(ranks, ranks.c.rid == cut.c.pid)
    if counted:
        query = query.add_columns(reminder_count(campaign_id, cut.c.unit_id).label("reminders"))
    return query.order_by(*order_of(cut.c))


def standing_rows(campaign: Campaign, now: datetime) -> list[UnitRow]:
    """Every unit's row, in group and code order (the ranks of ``campaigns.results``, from SQL)."""
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    tiers = campaign.tiers or standing.DEFAULT_TIERS
    sub = _standing_select(campaign.commune_nomination, grace_ended).subquery("standing")
    return [_row(r, tiers) for r in db.session.execute(
        select(sub).order_by(_bytewise(sub.c.grp), _bytewise(sub.c.code)), _bound(campaign))]


def export_rows(campaign: Campaign, now: datetime, selection: UnitSelection | None = None) -> Iterator[ResultRow]:
    """The unit table's export, one row per unit in group and code order, read as it is written: one
    statement (standing with ranks, the parent's code, the current dossier's channel and number),
    fetched in batches, no ORM objects.  ``selection``: only those units (ranks stay the whole
    campaign's)."""
    grace_ended = now >= timeline_of(campaign).grace_ends_at
    tiers = campaign.tiers or standing.DEFAULT_TIERS
    tz = tz_of(campaign)
    sub = _standing_select(campaign.commune_nomination, grace_ended).subquery("standing")
    parent = aliased(Unit)
    latest = (select(Submission.participation_id.label("pid"), Submission.channel.label("channel"),
                     Submission.doc_number.label("doc_number"),
                     func.row_number().over(partition_by=Submission.participation_id,
                                            order_by=Submission.version.desc()).label("n"))
              .join(Participation, Participation.id == Submission.participation_id)
              .where(Participation.campaign_id == campaign.id).subquery("latest"))
    query = (select(sub, parent.code.label("parent_code"), latest.c.channel, latest.c.doc_number)
             .outerjoin(parent, parent.id == sub.c.parent_id)
             .outerjoin(latest, and_(latest.c.pid == sub.c.pid, latest.c.n == 1))
             .where(*(selection.clauses(sub.c) if selection is not None else ()))
             .order_by(_bytewise(sub.c.grp), _bytewise(sub.c.code)))
    for r in db.session.execute(query.execution_options(yield_per=500), _bound(campaign)):
        row = _row(r, tiers)
        excluded = row.status == "excluded"
        received = r.received_at.astimezone(tz).replace(tzinfo=None) if r.received_at else None
        channel = r.channel or ""
        yield ResultRow(
            code=r.code, name=r.name, group=group_label(r.grp), parent=r.parent_code or "",
            status=status_name(row.status), received_at=received,
            channel=CHANNELS[channel][0] if channel in CHANNELS else channel, doc_number=r.doc_number or "",
            late_working_days=(r.late_days or 0) if received else None,
            self_score=None if excluded else _decimal(r.self_score),
            verified_score=None if excluded else _decimal(r.verified_score),
            rating=row.rating or "", rank=row.rank, reinstated_reason=r.reinstated_reason or "")


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    by_group: dict[str, dict[str, int]]
    total: int
    silent: int  # recorded as not submitted and not reinstated: excluded when grace ends
    with_parent: int = 0  # units with a parent (communes under their district): the nomination form
    #: (group, effective status, days late) → units: what ``unit_page`` cuts a sorted table into.
    cells: dict[tuple[str, str, int], int] = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return sorted(self.by_group, key=group_key)


def status_counts(campaign: Campaign, grace_ended: bool) -> Counts:
    """Units by effective status and group, the silent ones and those with a parent: the campaign's standing
    tally (``models.StandingTally``, kept by the database's triggers) summed, a few dozen rows whatever
    the campaign's size."""
    rows = db.session.execute(_counts_statement(), {"campaign_id": campaign.id}).all()
    by_status = {s: 0 for s in standing.STATUSES}
    by_group: dict[str, dict[str, int]] = {}
    cells: dict[tuple[str, str, int], int] = {}
    n_silent = n_parent = 0
    for grp, recorded, is_silent, late, n, parented in rows:
        st = "excluded" if grace_ended and is_silent else recorded
        by_status[st] = by_status.get(st, 0) + n
        counts = by_group.setdefault(grp, {s: 0 for s in standing.STATUSES})
        counts[st] = counts.get(st, 0) + n
        cells[grp, st, late] = cells.get((grp, st, late), 0) + n
        n_silent += n if is_silent else 0
        n_parent += parented
    return Counts(by_status, by_group, sum(by_status.values()), n_silent, n_parent, cells)


@cache
def _counts_statement():
    T = StandingTally
    n = func.sum(T.n)
    return (select(T.grp, T.status, T.silent, T.late_days, n, func.sum(case((T.parented, T.n), else_=0)))
            .where(T.campaign_id == bindparam("campaign_id", type_=Integer))
            .group_by(T.grp, T.status, T.silent, T.late_days).having(n != 0))


#: The units each action of the dashboard applies to (its suggestion list), and the exclusion preview:
#: (effective status, silent, has a parent) → in the list.  The definition; ``unit_suggestions`` is its SQL
#: (tests/test_dashboard_sql.py proves them equal).
LISTS = {
    "return": lambda status, silent, has_parent: status in ("on_time", "late", "resubmitted", "confirmed"),
    "confirm": lambda status, silent, has_parent: status in ("on_time", "late", "resubmitted"),
    "reinstate": lambda status, silent, has_parent: status == "excluded",
    "scores": lambda status, silent, has_parent: status not in ("excluded", "not_submitted"),
    "nominate": lambda status, silent, has_parent: has_parent,
    "silent": lambda status, silent, has_parent: silent,
}


def _list_condition(name: str, grace_ended: bool):
    status = effective_status_sql(grace_ended)
    return {
        "return": status.in_(("on_time", "late", "resubmitted", "confirmed")),
        "confirm": status.in_(("on_time", "late", "resubmitted")),
        "reinstate": status == "excluded",
        "scores": status.not_in(("excluded", "not_submitted")),
        "nominate": Unit.parent_id.is_not(None),
        "silent": silent_sql(),
    }[name]


def unit_suggestions(campaign: Campaign, grace_ended: bool, name: str, q: str = "", limit: int = 20) -> list[UnitBrief]:
    """The first ``limit`` units (code order) the list ``name`` of ``LISTS`` holds whose code or name
    contains ``q`` (without diacritics, any case): one statement, an index range of the campaign's
    participations cut by a top-N sort.  The dashboard's action forms ask for them as the officer types
    (``/campaigns/<code>/suggest/<name>``), so a page never carries hundreds of options, and every unit
    of a 5,000-unit campaign can be found, not only the first hundred codes."""
    pattern = like_pattern(q)
    rows = db.session.execute(_suggestions_statement(_dialect(), grace_ended, name, bool(pattern)),
                              _bound(campaign, pattern=pattern, limit=limit)).all()
    return [UnitBrief(*r) for r in rows]


@cache
def _suggestions_statement(dialect: str, grace_ended: bool, name: str, pattern: bool):
    P, U = Participation, Unit
    where = [*_of_campaign(), _list_condition(name, grace_ended)]
    if pattern:
        where.append(_code_or_name_like(U.code, U.name, bindparam("pattern")))
    return (select(U.id, U.code, U.name, U.group, U.parent_id).select_from(P).join(U, U.id == P.unit_id)
            .where(*where).order_by(_bytewise(U.code)).limit(bindparam("limit", type_=Integer)))


# -- the audit trail --------------------------------------------------

def recent_audit(campaign: Campaign, limit: int = 50) -> list:
    """The campaign's latest audit entries, newest first, each with its unit's code and name (``unit_code``,
    ``unit_name``; None without a unit): one statement of plain rows (what ``audit.describe`` reads)."""
    return list(db.session.execute(_recent_audit_statement(), {"campaign_id": campaign.id, "limit": limit}))


@cache
def _recent_audit_statement():
    e = AuditEvent
    return (select(e.id, e.at, e.actor, e.action, e.unit_id, e.from_value, e.to_value, e.reason,
                   Unit.code.label("unit_code"), Unit.name.label("unit_name"))
            .outerjoin(Unit, Unit.id == e.unit_id).where(e.campaign_id == bindparam("campaign_id", type_=Integer))
            .order_by(e.at.desc(), e.id.desc()).limit(bindparam("limit", type_=Integer)))


def audit_page(campaign: Campaign, page: int, per_page: int = 100):
    return db.paginate(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
                       .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                       page=page, per_page=per_page, error_out=False)


def units_by_id(ids: Iterable[int | None]) -> dict[int, Unit]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


def campaign_codes(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Campaign.id, Campaign.code).where(Campaign.id.in_(wanted))).all())


# -- the first screen -----------------------------------------------------------

@dataclass(frozen=True)
class DaysLeft:
    kind: str  # deadline | grace | closed
    n: int


def days_left(cal: VietnamCalendar, today: date, deadline: date, grace_end: date, now: datetime,
              deadline_at: datetime, grace_ends_at: datetime) -> DaysLeft:
    """Working days left, today included when it is one, to the deadline (or, once past, to grace end)."""
    if now < deadline_at:
        kind, last = "deadline", deadline
    elif now < grace_ends_at:
        kind, last = "grace", grace_end
    else:
        return DaysLeft("closed", 0)
    n, day = 0, today
    for _ in range(800):  # bounded: a deadline more than two years ahead is counted up to there
        if day > last:
            break
        n += cal.is_working_day(day)
        day += timedelta(days=1)
    return DaysLeft(kind, n)


@dataclass(frozen=True)
class CampaignLine:
    campaign: Campaign
    state: str
    submitted: int  # units with a dossier received
    total: int
    next_item: object | None  # the timeline's next milestone not reached yet (TimelineItem)


def campaign_lines(campaigns: Sequence[Campaign], now: datetime) -> list[CampaignLine]:
    """The campaign list: state, submitted / total and the next milestone of each campaign, in a
    constant number of statements (the milestones are expected loaded with the campaigns; one
    calendar per organizer; one grouped count)."""
    ids = [c.id for c in campaigns]
    counts = {cid: (n, received) for cid, n, received in db.session.execute(
        select(Participation.campaign_id, func.count(), func.count(Participation.received_at))
        .where(Participation.campaign_id.in_(ids)).group_by(Participation.campaign_id))} if ids else {}
    calendars: dict[int, VietnamCalendar] = {}
    zones: dict[int, ZoneInfo] = {}
    out = []
    for c in campaigns:
        cal = calendars.get(c.organizer_id) or calendars.setdefault(c.organizer_id, calendar_of(c))
        tz = zones.get(c.organizer_id) or zones.setdefault(c.organizer_id, tz_of(c))
        tl = compute(c.deadline, c.grace_working_days, milestone_dates(c), cal, state=c.state, now=now, tz=tz)
        state = effective_state(c.state, tl.deadline_at, tl.grace_ends_at, now)
        upcoming = None
        if state not in ("cancelled", "published"):
            upcoming = next((i for i in tl.items if not i.reached and i.ends_at > now), None)
        n, received = counts.get(c.id, (0, 0))
        out.append(CampaignLine(c, state, received, n, upcoming))
    return out


# -- the calendar ------------------------------------------------------------

def days_off(cal: VietnamCalendar, first: date, last: date, lang: str = "vi") -> dict[date, str]:
    """Every non-working day in [first, last] with why."""
    out = {}
    day = first
    while day <= last:
        status = cal.day_status(day)
        if not status.working:
            out[day] = status.describe(lang)
        day += timedelta(days=1)
    return out


def own_overrides(organizer_id: int, year: int) -> list[CalendarOverride]:
    return list(db.session.scalars(
        select(CalendarOverride).where(CalendarOverride.organizer_id == organizer_id,
                                       CalendarOverride.day >= date(year, 1, 1),
                                       CalendarOverride.day <= date(year, 12, 31))
        .order_by(CalendarOverride.day)))


def shared_overrides(year: int) -> list[CalendarOverride]:
    """Decisions made for every organizer (read-only here)."""
    return list(db.session.scalars(
        select(CalendarOverride).where(CalendarOverride.organizer_id.is_(None),
                                       CalendarOverride.day >= date(year, 1, 1),
                                       CalendarOverride.day <= date(year, 12, 31))
        .order_by(CalendarOverride.day)))


def all_audit(campaign: Campaign) -> list[AuditEvent]:
    """The whole audit trail of a campaign, oldest first (the export)."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == campaign.id)
                                   .order_by(AuditEvent.at, AuditEvent.id)))


def holiday_decisions(organizer_id: int, year: int) -> list[HolidayDecision]:
    """The decisions on unconfirmed days off of ``year`` in force for an organizer: its own and everyone's."""
    return list(db.session.scalars(
        select(HolidayDecision).where(or_(HolidayDecision.organizer_id.is_(None),
                                          HolidayDecision.organizer_id == organizer_id),
                                      HolidayDecision.day >= date(year, 1, 1), HolidayDecision.day <= date(year, 12, 31))
        .order_by(HolidayDecision.day, HolidayDecision.organizer_id)))

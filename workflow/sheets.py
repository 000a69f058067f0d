"""The read side of criteria sheets: one unit's sheet with its scores and flags, and
the campaign's scores by group with section subtotals.

A constant number of statements whatever the number of criteria (the set, its
criteria, the sheet, its entries) or of units (``campaign_scores``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, select, type_coerce

from .criteria import ConfirmationRound, CriteriaSet, Criterion, Sheet, SheetEntry, sets_of
from .criteria_rules import CriteriaTree, Entry, Flag, Node, SheetScore, build_tree, logic_flags, score_sheet
from .db import db
from .models import Campaign, Participation, Unit


@dataclass
class SheetView:
    """Everything the sheet pages show of one unit."""

    criteria_set: CriteriaSet
    tree: CriteriaTree
    group: str
    sheet: Sheet | None
    entries: dict[str, SheetEntry]
    criterion_ids: dict[str, int]
    draft_score: SheetScore
    score: SheetScore  # claimed (as submitted) and verified
    flags: list[Flag]
    round: ConfirmationRound | None = None
    flags_by_code: dict[str, list[Flag]] = field(default_factory=dict)

    def nodes(self) -> list[Node]:
        return list(self.tree.walk(self.group))

    @property
    def submitted(self) -> bool:
        return self.sheet is not None and self.sheet.submitted_at is not None

    def draft_of(self, code: str) -> Mapping[str, Any]:
        e = self.entries.get(code)
        return e.draft if e is not None and e.draft else {}

    def claimed_of(self, code: str) -> Mapping[str, Any]:
        e = self.entries.get(code)
        return e.claimed if e is not None and e.claimed else {}


_TREES: dict[tuple[int, str], CriteriaTree] = {}


def tree_of(cs: CriteriaSet, criteria: list[Criterion]) -> CriteriaTree:
    return build_tree([c.flat() for c in criteria])


def entries_as_rule_input(entries: Mapping[str, SheetEntry], *, draft: bool = False) -> dict[str, Entry]:
    out = {}
    for code, e in entries.items():
        if draft:
            out[code] = Entry(claimed=e.draft or None)
        else:
            out[code] = Entry(claimed=e.claimed, verified=e.verified,
                              verified_points=Decimal(e.verified_points) if e.verified_points is not None else None,
                              link_not_found=e.link_not_found)
    return out


def sheet_view(campaign: Campaign, p: Participation, unit: Unit) -> SheetView | None:
    """The unit's sheet, or None when the campaign has no criteria set for its group."""
    sets = sets_of(campaign.id)
    cs = (next((s for s in sets if unit.group in (s.groups or [])), None)
          or next((s for s in sets if not s.groups), None))
    if cs is None:
        return None
    criteria = list(db.session.scalars(select(Criterion).where(Criterion.set_id == cs.id)
                                       .order_by(Criterion.position)))
    tree = tree_of(cs, criteria)
    ids = {c.code: c.id for c in criteria}
    by_id = {c.id: c.code for c in criteria}
    sheet = db.session.scalar(select(Sheet).where(Sheet.participation_id == p.id))
    entries: dict[str, SheetEntry] = {}
    if sheet is not None:
        for e in db.session.scalars(select(SheetEntry).where(SheetEntry.sheet_id == sheet.id)):
            if e.criterion_id in by_id:
                entries[by_id[e.criterion_id]] = e
    rnd = db.session.scalar(select(ConfirmationRound).where(ConfirmationRound.participation_id == p.id)
                            .order_by(ConfirmationRound.id.desc()).limit(1))
    draft_score = score_sheet(tree, unit.group, entries_as_rule_input(entries, draft=True))
    score = score_sheet(tree, unit.group, entries_as_rule_input(entries))
    claimed_values = {c: e.claimed for c, e in entries.items() if e.claimed is not None}
    flags = logic_flags(tree, unit.group, claimed_values) if sheet is not None and sheet.submitted_at else []
    view = SheetView(cs, tree, unit.group, sheet, entries, ids, draft_score, score, flags, rnd)
    for f in flags:
        view.flags_by_code.setdefault(f.code, []).append(f)
    return view


# -- the whole campaign --------------------------------------------------------------

@dataclass(frozen=True)
class UnitScores:
    participation_id: int
    unit_id: int
    group: str
    set_code: str
    claimed_total: Decimal
    verified_total: Decimal
    sections: dict[str, tuple[Decimal, Decimal]]  # section code -> (claimed, verified)


def _cents(x: float) -> Decimal:
    return Decimal(round(x * 100)) / 100


def _plan(tree: CriteriaTree, group: str) -> tuple[list[tuple[str, Decimal, list[str]]], list[str]]:
    """Parents in post-order with their applying children, and the applying sections: a sheet's totals
    are then sums and caps, no tree walk per unit."""
    parents: list[tuple[str, Decimal, list[str]]] = []

    def visit(n: Node) -> None:
        kids = [c for c in n.children if c.applies_to(group)]
        for c in kids:
            visit(c)
        if not n.is_leaf:
            parents.append((n.code, n.maximum, [c.code for c in kids]))
    sections = [n for n in tree.nodes if n.applies_to(group)]
    for n in sections:
        visit(n)
    return parents, [n.code for n in sections]


def campaign_scores(campaign: Campaign) -> list[UnitScores]:
    """Every unit's claimed and verified totals and section subtotals.

    The rule's points of each criterion are stored beside its values when the
    sheet is submitted and when the criterion is verified (``evaluation``); here
    they are added up, parents bounded by their maxima, exactly as
    ``criteria_rules.score_sheet`` does.  Four statements whatever the number
    of units and criteria: the sets, their criteria, the submitted sheets, and
    every entry of those sheets (streamed in one query).
    """
    sets = sets_of(campaign.id)
    if not sets:
        return []
    set_ids = [s.id for s in sets]
    criteria: dict[int, list[Criterion]] = {s.id: [] for s in sets}
    for c in db.session.scalars(select(Criterion).where(Criterion.set_id.in_(set_ids))
                                .order_by(Criterion.set_id, Criterion.position)):
        criteria[c.set_id].append(c)
    trees = {s.id: tree_of(s, criteria[s.id]) for s in sets}
    code_of = {c.id: c.code for cs in criteria.values() for c in cs}
    set_code = {s.id: s.code for s in sets}
    sheets = db.session.execute(
        select(Sheet.id, Sheet.set_id, Participation.id, Unit.id, Unit.group)
        .join(Participation, Participation.id == Sheet.participation_id)
        .join(Unit, Unit.id == Participation.unit_id)
        .where(Participation.campaign_id == campaign.id, Sheet.submitted_at.is_not(None))).all()
    # Points are multiples of 0.01 and at most a few hundred: summed as floats and rounded to cents at the
    # end they are exact, and the database hands floats over much faster than decimals.
    claimed: dict[int, dict[str, float]] = {row[0]: {} for row in sheets}
    verified: dict[int, dict[str, float]] = {row[0]: {} for row in sheets}
    # Core rows (the session's connection, no ORM row processing): the bulk of the time is here.
    rows = db.session.connection().execute(
        select(SheetEntry.sheet_id, SheetEntry.criterion_id, type_coerce(SheetEntry.claimed_score, Float),
               type_coerce(SheetEntry.verified_score, Float))
        .join(Sheet, Sheet.id == SheetEntry.sheet_id)
        .join(Participation, Participation.id == Sheet.participation_id)
        .where(Participation.campaign_id == campaign.id, Sheet.submitted_at.is_not(None))
        .execution_options(yield_per=20000))
    for chunk in rows.partitions():
        for sheet_id, criterion_id, c_points, v_points in chunk:
            code = code_of.get(criterion_id)
            if code is not None:
                claimed[sheet_id][code] = c_points or 0.0
                verified[sheet_id][code] = v_points or 0.0
    plans: dict[tuple[int, str], tuple[list[tuple[str, float, list[str]]], list[str]]] = {}
    out = []
    for sheet_id, set_id, p_id, unit_id, group in sheets:
        plan = plans.get((set_id, group))
        if plan is None:
            parents_d, codes = _plan(trees[set_id], group)
            plan = plans[(set_id, group)] = ([(c, float(m), k) for c, m, k in parents_d], codes)
        parents, section_codes = plan
        cl, vl = claimed[sheet_id], verified[sheet_id]
        for code, maximum, kids in parents:
            cs_ = vs_ = 0.0
            for k in kids:
                cs_ += cl.get(k, 0.0)
                vs_ += vl.get(k, 0.0)
            cl[code] = cs_ if cs_ < maximum else maximum
            vl[code] = vs_ if vs_ < maximum else maximum
        sections = {code: (_cents(cl.get(code, 0.0)), _cents(vl.get(code, 0.0))) for code in section_codes}
        out.append(UnitScores(p_id, unit_id, group, set_code[set_id],
                              _cents(sum(cl.get(x, 0.0) for x in section_codes)),
                              _cents(sum(vl.get(x, 0.0) for x in section_codes)), sections))
    return out

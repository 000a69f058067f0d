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

from sqlalchemy import Float, case, func, select, type_coerce

from .criteria import ConfirmationRound, CriteriaSet, Criterion, Sheet, SheetEntry, SheetFile, sets_of
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
    #: Evidence files by criterion code, in the order they were attached.
    files: dict[str, list[SheetFile]] = field(default_factory=dict)

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
    files: dict[str, list[SheetFile]] = {}
    if sheet is not None:
        for sf in db.session.scalars(select(SheetFile).where(SheetFile.sheet_id == sheet.id)
                                     .order_by(SheetFile.id)):
            if sf.criterion_id in by_id:
                files.setdefault(by_id[sf.criterion_id], []).append(sf)
    rnd = db.session.scalar(select(ConfirmationRound).where(ConfirmationRound.participation_id == p.id)
                            .order_by(ConfirmationRound.id.desc()).limit(1))
    draft_score = score_sheet(tree, unit.group, entries_as_rule_input(entries, draft=True))
    score = score_sheet(tree, unit.group, entries_as_rule_input(entries))
    claimed_values = {c: e.claimed for c, e in entries.items() if e.claimed is not None}
    flags = logic_flags(tree, unit.group, claimed_values) if sheet is not None and sheet.submitted_at else []
    view = SheetView(cs, tree, unit.group, sheet, entries, ids, draft_score, score, flags, rnd, files=files)
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
    set_code = {s.id: s.code for s in sets}
    sheets = db.session.execute(
        select(Sheet.id, Sheet.set_id, Participation.id, Unit.id, Unit.group)
        .join(Participation, Participation.id == Sheet.participation_id)
        .join(Unit, Unit.id == Participation.unit_id)
        .where(Participation.campaign_id == campaign.id, Sheet.submitted_at.is_not(None))).all()
    # The leaves' points summed by sheet and parent in SQL (a top-level leaf is its own group); the caps
    # of the parents, bottom up, in Python.  Points are multiples of 0.01 and at most a few hundred: summed
    # as floats and rounded to cents at the end they are exact.
    key = case((Criterion.parent_code == "", Criterion.code), else_=Criterion.parent_code)
    sums: dict[int, dict[str, tuple[float, float]]] = {row[0]: {} for row in sheets}
    rows = db.session.connection().execute(
        select(SheetEntry.sheet_id, Criterion.set_id, key, type_coerce(func.sum(SheetEntry.claimed_score), Float),
               type_coerce(func.sum(SheetEntry.verified_score), Float))
        .join(Criterion, Criterion.id == SheetEntry.criterion_id)
        .join(Sheet, Sheet.id == SheetEntry.sheet_id)
        .join(Participation, Participation.id == Sheet.participation_id)
        .where(Participation.campaign_id == campaign.id, Sheet.submitted_at.is_not(None))
        .group_by(SheetEntry.sheet_id, Criterion.set_id, key))
    for sheet_id, _set_id, group_key, c_sum, v_sum in rows:
        sums[sheet_id][group_key] = (c_sum or 0.0, v_sum or 0.0)
    plans: dict[tuple[int, str], tuple[list[tuple[str, float, list[str]]], list[str], set[str]]] = {}
    out = []
    for sheet_id, set_id, p_id, unit_id, group in sheets:
        plan = plans.get((set_id, group))
        if plan is None:
            parents_d, codes = _plan(trees[set_id], group)
            parent_codes = {c for c, _m, _k in parents_d}
            plan = plans[(set_id, group)] = ([(c, float(m), [k for k in kids if k in parent_codes])
                                              for c, m, kids in parents_d], codes, parent_codes)
        parents, section_codes, _parent_codes = plan
        leaf_sums = sums[sheet_id]
        cl: dict[str, float] = {}
        vl: dict[str, float] = {}
        for code, maximum, sub_parents in parents:  # post-order: children first
            c_sum, v_sum = leaf_sums.get(code, (0.0, 0.0))
            for k in sub_parents:
                c_sum += cl[k]
                v_sum += vl[k]
            cl[code] = c_sum if c_sum < maximum else maximum
            vl[code] = v_sum if v_sum < maximum else maximum
        for code in section_codes:
            if code not in cl:  # a top-level criterion without sub-criteria
                cl[code], vl[code] = leaf_sums.get(code, (0.0, 0.0))
        sections = {code: (_cents(cl[code]), _cents(vl[code])) for code in section_codes}
        out.append(UnitScores(p_id, unit_id, group, set_code[set_id],
                              _cents(sum(cl[x] for x in section_codes)),
                              _cents(sum(vl[x] for x in section_codes)), sections))
    return out

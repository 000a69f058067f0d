"""Next year's campaign takes the criteria sets with it (issue 16): the same sets per group, field by field,
with no unit's values; the preview (CLI and web) says how many criteria are copied."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.conftest import import_example, login
from tests.test_criteria_files import import_criteria
from workflow import evaluation
from workflow.criteria import CriteriaSet, Criterion, Sheet, SheetEntry, sets_of
from workflow.db import db
from workflow.models import Campaign

FIELDS = ("position", "code", "parent_code", "title", "maximum", "kind", "rule", "guidance", "groups", "allow_na")


def campaign(code: str) -> Campaign:
    return db.session.scalar(select(Campaign).where(Campaign.code == code))


def shape(c: Campaign) -> list:
    """Every stored field of every set and criterion, in order (ids aside)."""
    return [((s.code, s.title, list(s.groups or []), s.position),
             [tuple(getattr(cr, f) for f in FIELDS) for cr in s.criteria]) for s in sets_of(c.id)]


@pytest.mark.parametrize("example, code, criteria_file", [
    ("binh-thuan-2019.yaml", "BTN-UDCNTT-2019", "binh-thuan-2019.yaml"),
    ("cao-bang-2018.yaml", "CBG-UDCNTT-2018", "cao-bang-2018.yaml"),
])
def test_cloning_copies_the_criteria_sets_field_by_field(runner, example, code, criteria_file):
    import_example(runner, example, now="2018-08-01T08:00:00+07:00")
    import_criteria(runner, code, criteria_file)
    old = campaign(code)
    leaves = db.session.scalar(select(func.count(Criterion.id)).join(CriteriaSet)
                               .where(CriteriaSet.campaign_id == old.id, Criterion.kind != ""))
    n_sets = len(sets_of(old.id))
    assert n_sets >= 1 and leaves > 10
    dry = runner.invoke(args=["campaign", "clone", code, "--code", f"{code}-NEXT", "--year", str(old.year + 1),
                              "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"criteria\t{n_sets} sets\t{leaves} criteria" in dry.output
    result = runner.invoke(args=["campaign", "clone", code, "--code", f"{code}-NEXT", "--year", str(old.year + 1),
                                 "--now", "2026-12-01T09:00:00+07:00"])
    assert result.exit_code == 0, result.output
    new = campaign(f"{code}-NEXT")
    assert shape(new) == shape(old)
    assert [s.id for s in sets_of(new.id)] != [s.id for s in sets_of(old.id)]  # copies, not the same rows
    # The old sets are untouched, and the new campaign's units have no sheet yet.
    assert db.session.scalar(select(func.count(Sheet.id)).join(CriteriaSet)
                             .where(CriteriaSet.campaign_id == new.id)) == 0


def test_no_values_are_copied(runner):
    """A unit's saved sheet stays in the old campaign: the new one starts blank."""
    import_example(runner, "binh-thuan-2019.yaml", now="2019-08-08T08:00:00+07:00")
    import_criteria(runner, "BTN-UDCNTT-2019", "binh-thuan-2019.yaml")
    old = campaign("BTN-UDCNTT-2019")
    unit = next(p.unit for p in old.participations if p.unit.group == "department")
    evaluation.save_draft(old, unit, {"1.3": {"yes": True}}, actor="t", now=datetime(2019, 8, 20, 3, tzinfo=UTC))
    db.session.commit()
    before = db.session.scalar(select(func.count(SheetEntry.id)))
    assert before >= 1
    assert runner.invoke(args=["campaign", "clone", "BTN-UDCNTT-2019", "--code", "BTN-2020", "--year", "2020"]
                         ).exit_code == 0
    new = campaign("BTN-2020")
    assert shape(new) == shape(old)
    assert db.session.scalar(select(func.count(Sheet.id)).join(CriteriaSet)
                             .where(CriteriaSet.campaign_id == new.id)) == 0
    assert db.session.scalar(select(func.count(SheetEntry.id))) == before


def test_a_campaign_without_criteria_still_clones(runner):
    import_example(runner, "tien-giang-2019.yaml")
    dry = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020", "--year", "2020",
                              "--dry-run"])
    assert "criteria\t0 sets\t0 criteria" in dry.output
    result = runner.invoke(args=["campaign", "clone", "TGG-UDCNTT-2019", "--code", "TGG-2020", "--year", "2020"])
    assert result.exit_code == 0, result.output
    assert sets_of(campaign("TGG-2020").id) == []


def test_the_web_preview_says_how_many_criteria_are_copied(client, runner, make_user):
    import_example(runner, "cao-bang-2018.yaml", now="2018-08-01T08:00:00+07:00")
    import_criteria(runner, "CBG-UDCNTT-2018", "cao-bang-2018.yaml")
    old = campaign("CBG-UDCNTT-2018")
    leaves = db.session.scalar(select(func.count(Criterion.id)).join(CriteriaSet)
                               .where(CriteriaSet.campaign_id == old.id, Criterion.kind != ""))
    make_user("admin@cbg.example", "organizer_admin", "CBG")
    login(client, "admin@cbg.example")
    html = client.post("/campaigns/CBG-UDCNTT-2018/clone", data={"code": "CBG-2019", "year": "2019"}
                       ).get_data(as_text=True)
    assert f"Bộ tiêu chí được sao chép: {len(sets_of(old.id))} bộ, {leaves} tiêu chí" in html
    assert campaign("CBG-2019") is None
    r = client.post("/campaigns/CBG-UDCNTT-2018/clone", data={"code": "CBG-2019", "year": "2019", "previewed": "1",
                                                               "confirm": "1"})
    assert r.status_code == 302
    assert shape(campaign("CBG-2019")) == shape(old)

"""The suite's own isolation (tests/conftest.py): every test starts from empty tables, its ids from 1.

On PostgreSQL the tables are emptied by one ``TRUNCATE … RESTART IDENTITY CASCADE``; the two sizes
(a few rows, more than ``TRUNCATE_ABOVE``) are the two paths an earlier, cheaper emptying took, kept so
that any future shortcut is held to the same result.  Runs on both databases.
"""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import TRUNCATE_ABOVE, _empty_tables
from workflow.db import db
from workflow.models import Campaign, Organizer, Unit


def _fill(units: int) -> None:
    org = Organizer(code="TGG", name="Sở Thông tin và Truyền thông tỉnh Tiền Giang", province="Tiền Giang",
                    email="thidua@stttt.tiengiang.gov.vn")
    db.session.add(org)
    db.session.flush()
    db.session.add_all(Unit(organizer_id=org.id, code=f"U{i:05d}", name=f"Đơn vị {i}", group="department")
                       for i in range(units))
    db.session.commit()


def _counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count()).select_from(Organizer)),
            db.session.scalar(select(func.count()).select_from(Unit)),
            db.session.scalar(select(func.count()).select_from(Campaign)))


def test_few_rows_are_emptied_and_the_ids_start_again(app, make_campaign):
    make_campaign("tien-giang-2019.yaml")
    assert _counts()[1] > 0
    first = db.session.scalar(select(func.max(Unit.id)))
    db.session.remove()
    _empty_tables()
    assert _counts() == (0, 0, 0)
    make_campaign("tien-giang-2019.yaml")
    assert db.session.scalar(select(func.max(Unit.id))) == first
    assert db.session.scalar(select(func.min(Organizer.id))) == 1


def test_many_rows_are_emptied_and_the_ids_start_again(app):
    _fill(TRUNCATE_ABOVE + 5)
    db.session.remove()
    _empty_tables()
    assert _counts() == (0, 0, 0)
    _fill(2)
    assert db.session.scalars(select(Unit.id).order_by(Unit.id)).all() == [1, 2]
    assert db.session.scalar(select(Organizer.id)) == 1

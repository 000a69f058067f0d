"""The dashboard's SQL read side (workflow/dashboard.py) against the one Python definition of
where units stand (workflow/campaigns.results), on varied data, and a 5,000-unit dashboard."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select, update

from tests.test_web_dashboard import IN_GRACE, big_campaign_yaml, client, counters, populate, sign_in, table_units  # noqa: F401
from web.pages.dashboard import PREVIEW_LIMIT
from workflow import campaigns as reads
from workflow import dashboard as dq
from workflow.dashboard import fold
from workflow.db import db
from workflow.models import Campaign, Participation, Unit
from workflow.standing import STATUSES

from .conftest import local

BEFORE_GRACE_END = local(2019, 10, 29, 10)
AFTER_GRACE_END = local(2019, 11, 4, 9)
STATUS_CHOICES = ("not_submitted", "on_time", "late", "excluded", "returned", "resubmitted", "confirmed",
                  "verified")
SCORES = (None, Decimal("90"), Decimal("95"), Decimal("95"), Decimal("97.5"), Decimal("100"), Decimal("101.25"))


def scramble(campaign: Campaign, seed: int) -> None:
    """Every status, recorded and effective; tied, missing, self and verified scores; reinstated,
    nominated and not; some units received, some late by several days."""
    rng = random.Random(seed)
    pids = db.session.scalars(select(Participation.id).where(Participation.campaign_id == campaign.id)
                              .order_by(Participation.id)).all()
    for pid in pids:
        status = rng.choice(STATUS_CHOICES)
        received = status not in ("not_submitted", "excluded")
        db.session.execute(update(Participation).where(Participation.id == pid).values(
            status=status, received_at=local(2019, 10, rng.randint(20, 31), rng.randint(7, 16)) if received else None,
            late_working_days=rng.randint(1, 4) if status == "late" else 0,
            self_score=rng.choice(SCORES), verified_score=rng.choice(SCORES) if rng.random() < 0.3 else None,
            reinstated_reason="Lỗi đường truyền" if rng.random() < 0.15 else "",
            nominated=rng.random() < 0.4))
    db.session.commit()
    db.session.expire_all()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("when", [BEFORE_GRACE_END, AFTER_GRACE_END], ids=["in-grace", "after-grace"])
@pytest.mark.parametrize("nomination", [True, False], ids=["nomination", "no-nomination"])
def test_sql_standing_equals_results(make_campaign, seed, when, nomination):
    code = f"VAR-{seed}-{int(nomination)}"
    campaign = make_campaign(big_campaign_yaml(code, 120).replace(
        "commune_nomination: true", f"commune_nomination: {'true' if nomination else 'false'}"))
    if seed == 3:  # tiers of another province: no open-ended last tier
        campaign.tiers = [{"name": "Xuất sắc", "min": 100}, {"name": "Đạt", "min": 95}]
    db.session.commit()
    scramble(campaign, seed)
    expected = {r.participation.id: r for r in reads.results(campaign, when)}
    got = {r.participation.id: r for r in dq.standing_rows(campaign, when)}
    assert got.keys() == expected.keys()
    ranked = 0
    for pid, r in expected.items():
        row = got[pid]
        assert (row.status, row.score, row.provisional, row.rating, row.rank) == \
            (r.status, r.score, r.provisional, r.rating, r.rank), (pid, row, r)
        ranked += r.rank is not None
    assert ranked > 10  # the data ranks something, with ties (95 twice in SCORES)
    assert any(a.rank == b.rank and a.participation.id != b.participation.id
               and a.participation.unit.group == b.participation.unit.group
               for a in expected.values() for b in expected.values() if a.rank)
    grace_ended = when >= reads.timeline_of(campaign).grace_ends_at
    counts = dq.status_counts(campaign, grace_ended)
    assert counts.by_status == {s: sum(1 for r in expected.values() if r.status == s) for s in STATUSES}
    assert counts.total == 120


def reference_order(results, sort: str, descending: bool, tiers, reminders: dict[int, int]) -> list[str]:
    """The units table's order as specified: one key, code as the tie-breaker, rows without a value last."""
    tier_index = {t["name"]: i for i, t in enumerate(tiers)}

    def key(r):
        u, p = r.participation.unit, r.participation
        return {"name": (fold(u.name), u.name),
                "group": (dq.group_key(u.group)),
                "status": dq.STATUS_ORDER[r.status],
                "received": p.received_at,
                "late": p.late_working_days or 0,
                "reminders": reminders.get(u.id, 0),
                "rating": None if r.rating is None else (tier_index[r.rating], r.rank)}[sort]

    by_code = sorted(results, key=lambda r: r.participation.unit.code)
    if sort == "urgency":  # who must act first (the class reversed by ``descending``), the latest first, code
        def urgency(r):
            rank = dq.URGENCY.get(r.status, len(dq.URGENCY))
            return (-rank if descending else rank, -(r.participation.late_working_days or 0))
        return [r.participation.unit.code for r in sorted(by_code, key=urgency)]
    if sort == "code":
        return [r.participation.unit.code for r in (reversed(by_code) if descending else by_code)]
    present = sorted((r for r in by_code if key(r) is not None), key=key, reverse=descending)
    return [r.participation.unit.code for r in present + [r for r in by_code if key(r) is None]]


@pytest.mark.parametrize("sort", ["code", "name", "group", "status", "received", "late", "rating", "urgency"])
def test_sql_order_filter_and_pages_equal_the_reference(make_campaign, sort, monkeypatch):
    campaign = make_campaign(big_campaign_yaml("ORD-1", 150))
    scramble(campaign, 11)
    # Names with diacritics and cases: the fold orders "Đ" with "D", "Ủ" with "u".
    for i, name in enumerate(("Đơn vị Đông", "đơn vị dưới", "Ủy ban xã", "UBND Phường 1", "Sở Y tế", "Sở Tài chính")):
        db.session.execute(update(Unit).where(Unit.code == f"U{i:05d}").values(name=name))
    db.session.commit()
    db.session.expire_all()
    results = reads.results(campaign, AFTER_GRACE_END)
    tiers = campaign.tiers
    for descending in (False, True):
        expected = reference_order(results, sort, descending, tiers, {})
        got = []
        for page in (1, 2, 3, 4):
            found = dq.unit_page(campaign, True, sort=sort, descending=descending, page=page, per_page=40)
            assert found.total == 150 and found.pages == 4
            got += [r.unit.code for r in found.rows]
        assert got == expected
    late = [r for r in results if r.status == "late" and r.participation.unit.group == "district"]
    found = dq.unit_page(campaign, True, status="late", group="district", sort=sort, per_page=500)
    assert [r.unit.code for r in found.rows] == reference_order(late, sort, False, tiers, {})
    assert found.total == len(late)
    # The totals the status counts give (no count statement) equal the counted ones, pages included; with
    # them, the group, status, late and urgency orders are read in pieces of tied cells (_cell_pieces):
    # the same rows in the same order as the one sorted statement, on pages cut across pieces.
    # (Pieces of up to SMALL_PIECE rows are read whole and cut in Python; 0: every piece cut in SQL.)
    for grace_ended, small in ((True, dq.SMALL_PIECE), (False, dq.SMALL_PIECE), (True, 0)):
        monkeypatch.setattr(dq, "SMALL_PIECE", small)
        counts = dq.status_counts(campaign, grace_ended)
        for filters in ({}, {"status": "late"}, {"group": "district"}, {"status": "late", "group": "district"},
                        {"status": "verified", "group": "commune"}, {"group": "nowhere"}):
            for page in (1, 2, 3):
                for descending in (False, True):
                    given = dq.unit_page(campaign, grace_ended, sort=sort, descending=descending, page=page,
                                         per_page=30, counts=counts, **filters)
                    counted = dq.unit_page(campaign, grace_ended, sort=sort, descending=descending, page=page,
                                           per_page=30, **filters)
                    assert (given.total, given.pages, given.page, [r.unit.code for r in given.rows],
                            [r.rank for r in given.rows]) == \
                        (counted.total, counted.pages, counted.page, [r.unit.code for r in counted.rows],
                         [r.rank for r in counted.rows]), (filters, page, descending, grace_ended, small)
        if sort in dq.CELL_ORDERS:  # the pieces were read, pages cut across several of them among them
            cuts = [dq._cell_pieces(counts, sort, False, "", "", offset, 30) for offset in range(0, 150, 30)]
            assert all(cuts) and max(len(c) for c in cuts) > 1, cuts
    # Diacritics and case do not matter in the search; % and _ are literal.
    assert {r.unit.code for r in dq.unit_page(campaign, True, q="DON VI DONG").rows} == {"U00000"}
    assert {r.unit.code for r in dq.unit_page(campaign, True, q="ủy BAN").rows} == {"U00002"}
    assert dq.unit_page(campaign, True, q="%").total == 0


@pytest.mark.parametrize("when", [BEFORE_GRACE_END, AFTER_GRACE_END], ids=["in-grace", "after-grace"])
def test_suggestion_lists_are_the_first_units_each_action_applies_to(make_campaign, when):
    campaign = make_campaign(big_campaign_yaml("PICK-1", 150))
    scramble(campaign, 7)
    grace_ended = when >= reads.timeline_of(campaign).grace_ends_at
    results = sorted(reads.results(campaign, when), key=lambda r: r.participation.unit.code)
    limit = 12
    for name, test in dq.LISTS.items():
        applies = [r for r in results
                   if test(r.status, r.participation.status == "not_submitted" and not r.participation.reinstated_reason,
                           r.participation.unit.parent_id is not None)]
        expected = [r.participation.unit.code for r in applies][:limit]
        assert [u.code for u in dq.unit_suggestions(campaign, grace_ended, name, limit=limit)] == expected, name
        assert len(expected) == limit, name  # the data fills every list: the cut is tested, not just the order
        # What the officer types narrows the list to the units whose code or name holds it, past the first codes.
        last = applies[-1].participation.unit
        assert [u.code for u in dq.unit_suggestions(campaign, grace_ended, name, q=last.code.lower())] == \
            [r.participation.unit.code for r in applies if last.code in r.participation.unit.code][:20], name


def test_urgency_order_puts_who_must_act_first(make_campaign):
    campaign = make_campaign(big_campaign_yaml("URG-1", 60))
    scramble(campaign, 5)
    rows = dq.unit_page(campaign, False, sort="urgency", per_page=100).rows
    rank = {"not_submitted": 0, "returned": 1, "late": 2}
    keys = [(rank.get(r.status, 3), -r.late_days, r.unit.code) for r in rows]
    assert keys == sorted(keys)
    assert rows[0].status == "not_submitted"
    assert {r.status for r in rows[:5]} == {"not_submitted"}


@pytest.mark.slow
def test_dashboard_of_5000_units_reads_a_page_not_the_campaign(client, make_campaign, make_user,  # noqa: F811
                                                              count_statements):
    small = make_campaign(big_campaign_yaml("BIG-60", 60))
    big = make_campaign(big_campaign_yaml("BIG-5000", 5000))
    populate(small)
    populate(big)
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")

    def dashboard(code: str, **params):
        db.session.expire_all()
        with time_machine.travel(IN_GRACE, tick=False), count_statements() as counter:
            response = client.get(f"/campaigns/{code}", query_string=params)
        assert response.status_code == 200
        return counter, response.get_data(as_text=True)

    small_count, _ = dashboard("BIG-60")
    counter, html = dashboard("BIG-5000")
    assert counter["n"] == small_count["n"], "\n".join(counter["sql"])
    assert counter["n"] <= 13, "\n".join(counter["sql"])  # with failed mail listed (its units: one more)
    # No statement reads every participation as rows: each either groups, counts, is limited (LIMIT, or
    # numbered rows kept up to a bound) or is by id.
    for sql in counter["sql"]:
        if "FROM participation" in sql or "JOIN participation" in sql:
            assert re.search(r"GROUP BY|count\(|LIMIT|\bIN \(|\.n_class <= ", sql, re.I), sql
    # populate(): every 5th on time, every 5th + 1 late, the rest silent; in grace, no one excluded yet.
    assert counters(html) == {"not_submitted": 3000, "on_time": 1000, "late": 1000, "excluded": 0, "returned": 0,
                              "resubmitted": 0, "confirmed": 0, "verified": 0}
    units = table_units(html)
    assert len(units) == 100
    # The default while submissions are open is the urgency order: silent units first.
    assert units[:3] == ["U00002", "U00003", "U00004"]
    assert "Hiển thị 5000 / 5000 đơn vị." in html and "Trang 1 / 50." in html
    # The exclusion preview counts all 3,000 silent units and names the first ones.
    assert "sẽ bị loại (3000)</h2>" in html
    assert html.count('<li class="col"><span class="mono">') == PREVIEW_LIMIT
    assert "… và 2900 đơn vị khác" in html
    # A later page of late units by rating: in rank order, and still a page's worth of statements.
    counter, html = dashboard("BIG-5000", status="late", sort="rating", page=3)
    assert counter["n"] == small_count["n"]
    assert "Hiển thị 1000 / 5000 đơn vị." in html and "Trang 3 / 10." in html
    late_units = table_units(html)
    assert len(late_units) == 100 and all(int(c[1:]) % 5 == 1 for c in late_units)


# -- the first screen, the chart, the campaign list ------------------------------------------

from tests.test_web_dashboard import DASH, receive, tgg  # noqa: E402, F401
from workflow.received_chart import render_received_svg  # noqa: E402


def test_first_screen_puts_counts_days_left_and_actions_before_the_timeline(client, tgg):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(local(2019, 10, 22, 9), tick=False):  # Tuesday; deadline Friday 25/10
        html = client.get(DASH).get_data(as_text=True)
    situation, timeline = html.index('id="situation"'), html.index('id="timeline-heading"')
    assert situation < timeline and html.index('id="counters"') < timeline
    days = re.search(r'id="days-left">\s*<div[^>]*>(\d+)</div>\s*<div class="small">([^<]+)', html)
    assert days.group(1) == "4" and "hạn nộp (hết 24:00" in days.group(2)  # Tue, Wed, Thu, Fri
    action = re.search(r'id="needs-action".*?</ul>', html, re.S).group(0)
    assert "4 đơn vị chưa nộp hồ sơ" in action and "status=not_submitted" in action
    # Urgency first while open: the silent units, then those that sent.
    assert table_units(html)[:4] == ["CAIBE", "CAIBE-TT", "MYTHO", "MYTHO-P1"]
    assert 'class="border rounded p-2 bg-body overflow-x-auto d-none d-md-block"' in html  # list form on phones
    with time_machine.travel(local(2019, 10, 29, 9), tick=False):  # in grace (ends Friday 01/11)
        html = client.get(DASH).get_data(as_text=True)
    days = re.search(r'id="days-left">\s*<div[^>]*>(\d+)</div>\s*<div class="small">([^<]+)', html)
    assert days.group(1) == "4" and "gia hạn" in days.group(2)


def test_received_chart_counts_per_local_day(client, tgg):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    campaign = tgg["tgg"]
    # 23:30 local on 25/10 is 16:30 UTC: still the deadline day, on time.
    receive(campaign, "CAIBE", local(2019, 10, 25, 23, 30))
    receive(campaign, "MYTHO", local(2019, 10, 28, 8, 0))
    assert dq.received_per_day(campaign) == {local(2019, 10, 24).date(): 1, local(2019, 10, 25).date(): 1,
                                             local(2019, 10, 28).date(): 2}
    with time_machine.travel(local(2019, 10, 29, 9), tick=False):
        html = client.get(DASH).get_data(as_text=True)
    chart = re.search(r'<div class="border rounded p-2 bg-body" id="received-chart">(.*?)</div>', html, re.S).group(1)
    bars = dict(re.findall(r'data-day="([\d-]+)" data-n="(\d+)"', chart))
    assert bars == {"2019-10-24": "1", "2019-10-25": "1", "2019-10-28": "2"}
    assert "Hạn nộp 25/10" in chart and "Hết gia hạn 01/11" in chart
    assert "4 hồ sơ nhận được" in chart


def test_received_chart_pure_is_valid_svg_and_caps_its_days():
    import xml.etree.ElementTree as ET
    from datetime import date, timedelta

    per_day = {date(2026, 1, 1) + timedelta(days=i): i % 7 for i in range(120)}
    svg = render_received_svg(per_day, date(2026, 4, 20), date(2026, 4, 27), date(2026, 4, 22))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    days = re.findall(r'data-day="([\d-]+)"', svg)
    assert len(days) <= 45 and max(days) <= "2026-04-30"
    empty = render_received_svg({}, date(2026, 4, 20), date(2026, 4, 27), date(2026, 4, 1))
    assert "Chưa nhận được hồ sơ nào." in empty and "data-day" not in empty


def test_campaign_list_shows_submitted_and_next_milestone_in_constant_statements(  # noqa: F811
        client, tgg, make_campaign, count_statements):  # noqa: F811
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(local(2019, 10, 22, 9), tick=False):
        db.session.expire_all()
        with count_statements() as one:
            html = client.get("/campaigns").get_data(as_text=True)
    row = re.search(r'<tr data-campaign="TGG-2019">.*?</tr>', html, re.S).group(0)
    assert 'data-submitted="2" data-total="6"' in row and "2 / 6" in row
    assert 'data-next="deadline"' in row and "25/10/2019" in row
    for i in range(3):
        make_campaign(big_campaign_yaml(f"TGG-X{i}", 20).replace("organizer: {code: BIG, name: Sở Thông tin và "
                                                                  "Truyền thông tỉnh Thử Nghiệm}",
                                                                  "organizer: {code: TGG, name: Sở TT&TT Tiền Giang}"))
    with time_machine.travel(local(2019, 10, 22, 9), tick=False):
        db.session.expire_all()
        with count_statements() as four:
            html = client.get("/campaigns").get_data(as_text=True)
    assert html.count("<tr data-campaign=") == 4
    assert four["n"] == one["n"], "\n".join(four["sql"])
    assert 'data-submitted="0" data-total="20"' in html


# -- the unit table's export --------------------------------------------------------------------

def reference_export(campaign: Campaign, now) -> list:
    """The export as it was computed before (ORM objects, campaigns.results): the reference."""
    from workflow.campaigns import CHANNELS, results, tz_of
    from workflow.models import Submission
    from workflow.standing import status_name
    from workflow.unit_files import ResultRow, group_label

    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.organizer_id == campaign.organizer_id))}
    latest = {}
    for pid, version, channel, doc_number in db.session.execute(
            select(Submission.participation_id, Submission.version, Submission.channel, Submission.doc_number)
            .join(Participation, Participation.id == Submission.participation_id)
            .where(Participation.campaign_id == campaign.id)):
        if pid not in latest or version > latest[pid][0]:
            latest[pid] = (version, channel, doc_number)
    tz = tz_of(campaign)
    out = []
    for r in results(campaign, now):
        p = r.participation
        unit = units[p.unit_id]
        parent = units.get(unit.parent_id) if unit.parent_id else None
        _, channel, doc_number = latest.get(p.id, (0, "", ""))
        excluded = r.status == "excluded"
        received = p.received_at.astimezone(tz).replace(tzinfo=None) if p.received_at else None
        out.append(ResultRow(
            code=unit.code, name=unit.name, group=group_label(unit.group), parent=parent.code if parent else "",
            status=status_name(r.status), received_at=received,
            channel=CHANNELS[channel][0] if channel in CHANNELS else channel, doc_number=doc_number or "",
            late_working_days=p.late_working_days if received else None,
            self_score=None if excluded else p.self_score, verified_score=None if excluded else p.verified_score,
            rating=r.rating or "", rank=r.rank, reinstated_reason=p.reinstated_reason or ""))
    return out


def test_export_rows_from_sql_equal_the_reference_and_csv_streams(client, tgg, count_statements):  # noqa: F811
    campaign = tgg["tgg"]
    receive(campaign, "CAIBE", local(2019, 10, 25, 23, 30))
    receive(campaign, "CAIBE", local(2019, 10, 28, 8, 0))  # a second version: the export names the latest
    scramble_scores = {"STC": Decimal("97"), "SYT": Decimal("97"), "CAIBE": Decimal("101.5")}
    for code, score in scramble_scores.items():
        db.session.execute(update(Participation).where(
            Participation.campaign_id == campaign.id,
            Participation.unit_id == select(Unit.id).where(Unit.code == code,
                                                          Unit.organizer_id == campaign.organizer_id)
            .scalar_subquery()).values(self_score=score))
    db.session.commit()
    db.session.expire_all()
    for now in (IN_GRACE, AFTER_GRACE_END):
        assert list(dq.export_rows(campaign, now)) == reference_export(campaign, now)
    sign_in(client, "admin@tgg.example")
    with time_machine.travel(AFTER_GRACE_END, tick=False):
        # (the comma separator asked for: a Vietnamese page's default is ";", issue 15)
        response = client.get("/campaigns/TGG-2019/export.csv?sep=,")
        assert response.status_code == 200 and response.is_streamed
        text = response.get_data().decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("Mã đơn vị,Tên đơn vị") and len(lines) == 7
    assert any(line.startswith("STC,") and ",1," in line for line in lines)  # tied 97s share rank 1


@pytest.mark.slow
def test_export_of_5000_units_is_a_fixed_number_of_statements(client, make_campaign, make_user,  # noqa: F811
                                                             count_statements):
    campaign = make_campaign(big_campaign_yaml("BIG-5000", 5000))
    populate(campaign)
    make_user("admin@big.example", "organizer_admin", "BIG")
    sign_in(client, "admin@big.example")
    db.session.expire_all()
    with time_machine.travel(IN_GRACE, tick=False), count_statements() as counter:
        response = client.get("/campaigns/BIG-5000/export.csv")
        body = response.get_data().decode("utf-8-sig")
    assert response.status_code == 200
    assert len(body.splitlines()) == 5001
    assert counter["n"] <= 12, "\n".join(counter["sql"])


def test_postgresql_plans_the_page_statement_for_its_values(make_campaign):
    """One page statement serves campaigns of 20 and of 50,000 units and pieces of 5 or 30,000 rows: a
    generic plan kept for all values (psycopg prepares a statement from its fifth run) would walk 30,000
    units where 100 are wanted.  The page statement is never prepared; the others are (control)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans each statement as it prepares it: no plan is kept across values")
    from sqlalchemy import text

    from notifications import outbox

    campaign = make_campaign(big_campaign_yaml("PLAN-1", 40))
    scramble(campaign, 4)
    for _ in range(8):
        counts = dq.status_counts(campaign, False)
        for sort in ("urgency", "code"):
            dq.unit_page(campaign, False, sort=sort, per_page=10, counts=counts, reminder_count=outbox.reminder_count)
    prepared = db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("standing_tally" in s for s in prepared), prepared  # the counts: prepared, as psycopg does
    assert not any("AS cut" in s or "piece_0" in s for s in prepared), prepared

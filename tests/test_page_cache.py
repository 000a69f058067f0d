"""Kept pages: served again only while nothing they show has changed, whoever changed it.

Every change below is made the way it happens in production: through another
app (another worker or machine, the CLI, the scheduler), the unit's own upload,
the tick's set-based exclusion, a calendar decision, the next day coming.
"""

from __future__ import annotations

import io
import re
import time
from contextlib import contextmanager
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from app import create_app
from tests.conftest import local, login
from web.page_cache import Kept, PageCache
from workflow import operations as ops
from workflow import revisions
from workflow.calendars import add_override
from workflow.db import db
from workflow.models import Campaign, Organizer, Participation, Revision, Unit, User

PAGE = "/campaigns/TGG-2019/units/STC"
DASH = "/campaigns/TGG-2019"
MONDAY = local(2019, 10, 21, 9, 0)  # deadline Friday 25/10/2019, grace 5 working days


def cache(app) -> PageCache:
    return app.extensions["page_cache"]


def text_of(response) -> str:
    return response.get_data(as_text=True)


def served_twice(app, client, url: str) -> str:
    """GET twice: the second answer comes from the cache and is the same page."""
    first = client.get(url)
    assert first.status_code == 200
    hits = cache(app).hits
    second = client.get(url)
    assert second.status_code == 200
    assert cache(app).hits == hits + 1, "the second view was drawn again instead of kept"
    assert text_of(second) == text_of(first)
    return text_of(second)


@contextmanager
def another_worker(app):
    """A second app on the same database, in its own context: another gunicorn worker, the CLI or the
    scheduler."""
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"]})
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def stc(campaign_code: str = "TGG-2019") -> tuple[Campaign, Unit]:
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == campaign_code))
    unit = db.session.scalar(select(Unit).where(Unit.organizer_id == campaign.organizer_id, Unit.code == "STC"))
    return campaign, unit


def participation(campaign: Campaign, unit: Unit) -> Participation:
    return db.session.scalar(select(Participation).where(Participation.campaign_id == campaign.id,
                                                         Participation.unit_id == unit.id))


def pdf_bytes() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
            b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


# -- the agency page -----------------------------------------------------------------

def test_a_dossier_recorded_by_another_worker_shows_at_once(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        assert "Chưa nộp hồ sơ" in served_twice(app, client, PAGE)
        with another_worker(app):  # staff record the e-mailed dossier elsewhere
            campaign, unit = stc()
            ops.record_submission(campaign, unit, received_at=local(2019, 10, 21, 8, 30), channel="email",
                                  doc_number="123/STC", recorded_by="admin@tgg.example", now=MONDAY)
            db.session.commit()
        html = text_of(client.get(PAGE))
    assert "Chưa nộp hồ sơ" not in html
    assert "Đã nộp đúng hạn lúc 08:30" in html and "123/STC" in html


def test_the_unit_sees_its_own_upload_and_the_flash_only_once(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        served_twice(app, client, PAGE)
        response = client.post(PAGE + "/upload", data={"documents": [(io.BytesIO(pdf_bytes()), "Báo cáo.pdf")]},
                               content_type="multipart/form-data")
        assert response.status_code == 303
        after = text_of(client.get(PAGE))  # with the flashed receipt: drawn, never kept
        again = text_of(client.get(PAGE))
    assert "Đã nhận hồ sơ: biên nhận số TGG-2019/STC/1" in after
    assert "Đã nhận hồ sơ: biên nhận số" not in again  # a flash is shown once, not replayed from the cache
    assert "TGG-2019/STC/1" in again and "Đã nộp đúng hạn lúc 09:00" in again


def test_the_tick_excluding_silent_units_shows_at_once(app, client, two_provinces):
    after_grace = local(2019, 11, 2, 0, 5)
    with time_machine.travel(after_grace, tick=False):
        login(client, "stc@tgg.example")
        before = served_twice(app, client, PAGE)
        with another_worker(app):  # the scheduler's tick: one set-based UPDATE
            ops.run_tick(after_grace)
            db.session.commit()
        html = text_of(client.get(PAGE))
    # The page derives the exclusion from the clock already; the stored one adds the audit's reason.
    assert "Bị loại khỏi đánh giá" in before and "Bị loại khỏi đánh giá" in html
    assert cache(app).hits == 1  # the second view only: the tick made the third one draw again


def test_a_calendar_decision_changes_the_countdown(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        assert "Còn 5 ngày làm việc đến hạn chót" in served_twice(app, client, PAGE)
        with another_worker(app):
            organizer = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
            add_override(day=date(2019, 10, 23), kind="day_off", reason="Bão số 5: nghỉ làm việc",
                         document="12/UBND-TH", organizer=organizer, actor="admin@tgg.example")
            db.session.commit()
        html = text_of(client.get(PAGE))
    assert "Còn 4 ngày làm việc đến hạn chót" in html


def test_a_new_day_draws_the_page_again(app, client, two_provinces):
    with time_machine.travel(local(2019, 10, 21, 20, 0), tick=False):  # sessions last 8 hours
        login(client, "stc@tgg.example")
        assert "Còn 5 ngày làm việc đến hạn chót" in served_twice(app, client, PAGE)
    with time_machine.travel(local(2019, 10, 22, 0, 0, 1), tick=False):
        assert "Còn 4 ngày làm việc đến hạn chót" in text_of(client.get(PAGE))


def test_a_deactivated_account_is_not_served_a_kept_page(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        served_twice(app, client, PAGE)
        with another_worker(app):
            user = db.session.scalar(select(User).where(User.email == "stc@tgg.example"))
            user.active = False
            db.session.commit()
        response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_person_never_gets_someone_elses_page(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        served_twice(app, client, PAGE)
        other = app.test_client()
        login(other, "syt@tgg.example")  # another unit's focal point: not its page
        assert other.get(PAGE).status_code == 404
        admin = app.test_client()
        login(admin, "admin@tgg.example")
        html = text_of(admin.get(PAGE))
    assert "admin@tgg.example" in html and "stc@tgg.example" not in html.split("<main")[0]


def test_each_session_gets_its_own_csrf_token_and_can_upload(app, two_provinces):
    app.config["WTF_CSRF_ENABLED"] = True
    first, second = app.test_client(), app.test_client()
    with time_machine.travel(MONDAY, tick=False):
        for c in (first, second):
            form = text_of(c.get("/login"))
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
            assert c.post("/login", data={"email": "stc@tgg.example", "password": "mat-khau-thu-nghiem",
                                          "csrf_token": token}).status_code == 302
        tokens = []
        for c in (first, second):
            html = text_of(c.get(PAGE))
            tokens.append(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1))
        assert cache(app).hits >= 1  # the second session's page came from the cache
        assert tokens[0] != tokens[1]
        response = second.post(PAGE + "/upload", data={
            "csrf_token": tokens[1], "documents": [(io.BytesIO(pdf_bytes()), "Báo cáo.pdf")]},
            content_type="multipart/form-data")
    assert response.status_code == 303


def test_the_language_is_part_of_what_is_kept(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "stc@tgg.example")
        assert "Chưa nộp hồ sơ" in served_twice(app, client, PAGE)
        english = text_of(client.get(PAGE + "?lang=en"))
        plain = text_of(client.get(PAGE))  # the session now speaks English
    assert "Not yet submitted" in english
    assert "Chưa nộp hồ sơ" not in plain and "Not yet submitted" in plain


# -- the dashboard ---------------------------------------------------------------------

def test_dashboard_counts_and_audit_follow_every_change(app, client, two_provinces):
    with time_machine.travel(MONDAY, tick=False):
        login(client, "admin@tgg.example")
        before = served_twice(app, client, DASH)
        with another_worker(app):
            campaign, unit = stc()
            ops.record_submission(campaign, unit, received_at=MONDAY, channel="email", doc_number="9/STC",
                                  recorded_by="admin@tgg.example", now=MONDAY)
            db.session.commit()
        after = text_of(client.get(DASH))
        with another_worker(app):
            campaign, unit = stc()
            ops.return_dossier(campaign, unit, reason="Thiếu bảng điểm tự chấm", actor="admin@tgg.example",
                               now=MONDAY)
            db.session.commit()
        returned = text_of(client.get(DASH))
    assert "9/STC" not in before
    assert "Thiếu bảng điểm tự chấm" not in after
    assert "Thiếu bảng điểm tự chấm" in returned
    on_time = re.compile(r'status-badge">(\d+)</span> Nộp đúng hạn')
    assert int(on_time.search(after).group(1)) == int(on_time.search(before).group(1)) + 1


# -- the counters --------------------------------------------------------------------

def counters() -> dict[tuple[str, int], int]:
    return {(r.kind, r.ref_id): r.value for r in db.session.scalars(select(Revision))}


def test_a_change_counts_in_its_scopes_and_a_rollback_counts_nothing(app, two_provinces):
    campaign, unit = stc()
    p = participation(campaign, unit)
    db.session.commit()
    start = counters()
    p.returned_reason = "x"
    db.session.rollback()
    assert counters() == start
    ops.record_submission(campaign, unit, received_at=MONDAY, channel="email", doc_number="1/STC", recorded_by="a",
                          now=MONDAY)
    db.session.commit()
    now = counters()
    for scope in ((revisions.PARTICIPATION, p.id), (revisions.CAMPAIGN_UNITS, campaign.id)):
        assert now.get(scope, 0) == start.get(scope, 0) + 1
    assert now.get((revisions.CAMPAIGN, campaign.id), 0) == start.get((revisions.CAMPAIGN, campaign.id), 0)
    # The tick's set-based exclusion bypasses the ORM and counts for the whole campaign.
    ops.run_tick(local(2019, 11, 2, 0, 5))
    db.session.commit()
    assert counters()[(revisions.CAMPAIGN, campaign.id)] > now.get((revisions.CAMPAIGN, campaign.id), 0)


def test_a_savepoint_neither_loses_nor_counts_early(app, two_provinces):
    campaign, unit = stc()
    p = participation(campaign, unit)
    db.session.commit()
    start = counters()
    p.returned_reason = "before the savepoint"
    db.session.flush()
    inner = db.session.begin_nested()
    campaign.title = campaign.title + " (sửa)"
    db.session.flush()
    inner.rollback()  # what the transaction changed before it still counts
    released = db.session.begin_nested()
    unit.name = unit.name + " (sửa)"
    released.commit()  # released, not committed: nothing counted (nor locked) yet
    assert counters() == start
    db.session.commit()
    now = counters()
    assert now[(revisions.PARTICIPATION, p.id)] == start.get((revisions.PARTICIPATION, p.id), 0) + 1
    assert now[(revisions.ORGANIZER, unit.organizer_id)] == start.get((revisions.ORGANIZER, unit.organizer_id), 0) + 1


def test_mail_leaving_sent_counts_for_the_dashboard(app, two_provinces):
    from notifications.models import OutboxMail

    campaign, unit = stc()
    mail = OutboxMail(key="k1", campaign_id=campaign.id, unit_id=unit.id, kind="reminder", occurrence="x",
                      recipient="stc@tgg.example", language="vi", subject="s", body_text="b", body_html="",
                      message_id="<m@x>", status="sent", attempts=1, next_attempt_at=MONDAY, claimed_by="",
                      last_error="", created_at=MONDAY)
    db.session.add(mail)
    db.session.commit()
    sent = counters()[(revisions.CAMPAIGN_UNITS, campaign.id)]
    mail.status = "pending"  # a 4xx after the final dot: no longer counted as sent
    db.session.commit()
    assert counters()[(revisions.CAMPAIGN_UNITS, campaign.id)] == sent + 1


# -- the store itself ------------------------------------------------------------------

def kept(size: int, stamp=(1,), day=date(2019, 10, 21)) -> Kept:
    return Kept(stamp, day, time.monotonic(), b"x" * size)


def test_least_recently_used_pages_go_first_within_the_memory_bound():
    store = PageCache(max_bytes=1000, max_age=60)
    for name in "abcd":
        store.put((name,), kept(240))
    assert store.get(("a",), (1,), date(2019, 10, 21)) is not None  # a is now the most recent
    store.put(("e",), kept(240))  # over 1000 bytes: b, the least recently used, goes
    assert store.get(("b",), (1,), date(2019, 10, 21)) is None
    assert all(store.get((n,), (1,), date(2019, 10, 21)) for n in "acde")
    store.put(("huge",), kept(400))  # more than a quarter of the bound: never kept
    assert store.get(("huge",), (1,), date(2019, 10, 21)) is None
    assert store.get(("c",), (2,), date(2019, 10, 21)) is None  # another counter
    assert store.get(("c",), (1,), date(2019, 10, 22)) is None  # another day


def test_a_page_older_than_the_limit_is_drawn_again():
    store = PageCache(max_bytes=1000, max_age=0.0)
    store.put(("a",), kept(10))
    assert store.get(("a",), (1,), date(2019, 10, 21)) is None


@pytest.mark.parametrize("mb", ["0"])
def test_the_cache_can_be_turned_off(migrated, tmp_path, mb):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated, "PAGE_CACHE_MB": float(mb),
                      "UPLOAD_FOLDER": str(tmp_path)})
    assert "page_cache" not in app.extensions

"""Nobody reaches another organizer's or another unit's data, through any route.

The sweeps iterate ``app.url_map`` at run time, so routes added later are
covered when they land.  Each argument is filled with values of the other
province (or the other unit), mixed with the prober's own: a URL that names
someone else's campaign, unit or document must answer 401/403/404/405 or send
to the sign-in page, never 200 with their data and never 5xx; and nothing of
theirs may change.
"""

from __future__ import annotations

import io
import itertools
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from flask import url_for
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from tests.conftest import local
from tests.test_web_unit import pdf_bytes, sign_in
from workflow import operations as ops
from workflow.calendars import add_override
from workflow.db import db
from workflow.machine import MANUAL_STEPS
from workflow.models import (
    AuditEvent,
    CalendarOverride,
    Campaign,
    Milestone,
    Organizer,
    Participation,
    Submission,
    SubmissionDocument,
    Unit,
    User,
)
from workflow.storage import store_document
from workflow.timeline import MILESTONES

#: Arguments that name a campaign, a unit or a document: a foreign value must be refused.
IDENTIFYING = {"code", "unit_code", "doc_id"}
#: Never sent during a sweep: it would end the prober's session.
SKIPPED_ENDPOINTS = {"auth.logout", "static", "bootstrap.static"}
ACTIONS = ["launch", "cancel", "publish", "step", "move", "return", "confirm", "reinstate", "scores", "nominate",
           "tick", "exclude", *MANUAL_STEPS]


@dataclass
class Probe:
    """What a sweep may use: values per argument, each flagged foreign or own, and what must not leak."""

    codes: list[tuple[str, bool]]
    unit_codes: list[tuple[str, bool]]
    doc_ids: list[tuple[int, bool]]
    ids: list[int]
    markers: list[str]
    visited: set[str] = field(default_factory=set)


# -- the data ------------------------------------------------------------------------

def _unit(organizer_code: str, code: str) -> Unit:
    return db.session.scalar(select(Unit).join(Organizer).where(Organizer.code == organizer_code, Unit.code == code))


def _campaign(code: str) -> Campaign:
    return db.session.scalar(select(Campaign).where(Campaign.code == code))


def _submit(app, campaign_code: str, organizer_code: str, unit_code: str, name: str, text: str) -> SubmissionDocument:
    campaign, unit = _campaign(campaign_code), _unit(organizer_code, unit_code)
    stored = store_document(app.config["UPLOAD_FOLDER"], name, pdf_bytes(text))
    at = campaign.deadline
    when = local(at.year, at.month, at.day, 9, 0)
    sub = ops.record_submission(campaign, unit, received_at=when, channel="upload", recorded_by="seed", now=when,
                                documents=[ops.DocumentInput(stored.original_name, stored.sha256, stored)])
    db.session.commit()
    return sub.documents[0]


@pytest.fixture
def world(app, two_provinces):
    """Both provinces with stored documents, an outbox, and a local day off in Tiền Giang only."""
    syt_doc = _submit(app, "TGG-2019", "TGG", "SYT", "Báo cáo mật Sở Y tế.pdf", "SYT")
    stc_doc = _submit(app, "TGG-2019", "TGG", "STC", "Báo cáo Sở Tài chính.pdf", "STC")
    caibe_doc = _submit(app, "TGG-2019", "TGG", "CAIBE-TT", "Báo cáo thị trấn Cái Bè.pdf", "CAIBE-TT")
    btn_doc = _submit(app, "BTN-2019", "BTN", "PHANTHIET", "Phiếu đánh giá Phan Thiết.pdf", "PT")
    tgg_org = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
    # Markers found nowhere else (not in examples, placeholders or API docs).
    tgg_org.name += " · ORG7Q"
    _campaign("TGG-2019").title += " · TGG7Q"
    for code, marker in (("SYT", "SYT7Q"), ("CAIBE-TT", "CBTT7Q"), ("MYTHO", "MT7Q")):
        _unit("TGG", code).name += f" · {marker}"
    add_override(day=date(2019, 12, 10), kind="day_off", reason="Bão số 9 (chỉ Tiền Giang nghỉ)",
                 document="Quyết định 99/QĐ-UBND", organizer=tgg_org, actor="admin@tgg.example")
    db.session.commit()
    return {"syt_doc": syt_doc, "stc_doc": stc_doc, "caibe_doc": caibe_doc, "btn_doc": btn_doc, "tgg_org": tgg_org,
            **two_provinces}


def ids_of_organizer(organizer_id: int, limit: int = 30) -> list[int]:
    """Ids of every kind of row that belongs to one organizer, for arguments like ``mail_id``."""
    ids: set[int] = set()
    campaign_ids = select(Campaign.id).where(Campaign.organizer_id == organizer_id)
    unit_ids = select(Unit.id).where(Unit.organizer_id == organizer_id)
    participation_ids = select(Participation.id).where(Participation.campaign_id.in_(campaign_ids))
    submission_ids = select(Submission.id).where(Submission.participation_id.in_(participation_ids))
    for query in (campaign_ids, unit_ids, participation_ids, submission_ids,
                  select(SubmissionDocument.id).where(SubmissionDocument.submission_id.in_(submission_ids)),
                  select(Milestone.id).where(Milestone.campaign_id.in_(campaign_ids)),
                  select(User.id).where(User.organizer_id == organizer_id),
                  select(CalendarOverride.id).where(CalendarOverride.organizer_id == organizer_id),
                  select(AuditEvent.id).where(AuditEvent.organizer_id == organizer_id)):
        ids.update(db.session.scalars(query))
    try:
        from notifications.models import OutboxMail

        ids.update(db.session.scalars(select(OutboxMail.id).where(OutboxMail.campaign_id.in_(campaign_ids))))
    except (ImportError, AttributeError):
        pass
    return sorted(ids)[:limit]


# -- the sweep ------------------------------------------------------------------------

def _actions_of(app, rule) -> list[str]:
    """Action names: common ones, plus any table of actions the view's module declares."""
    names = list(ACTIONS)
    module = sys.modules.get(app.view_functions[rule.endpoint].__module__)
    for attr in ("ACTION_HANDLERS", "ACTIONS"):
        table = getattr(module, attr, None)
        if isinstance(table, dict):
            names += list(table)
    return list(dict.fromkeys(names))


def _candidates(app, rule, name: str, probe: Probe) -> list[tuple[object, bool]]:
    converter = rule._converters.get(name)
    kind = type(converter).__name__ if converter else "UnicodeConverter"
    if name == "code":
        return probe.codes
    if name == "unit_code":
        return probe.unit_codes
    if name == "doc_id":
        return probe.doc_ids
    if name == "year":
        return [(2019, False)]
    if name == "action":
        return [(a, False) for a in _actions_of(app, rule)]
    if name == "kind":
        return [(k, False) for k in ("deadline", *MILESTONES)]
    if kind == "IntegerConverter" or name == "id" or name.endswith("_id"):
        return [(i, False) for i in probe.ids]
    return [("x", False)]


def _combinations(app, rule, probe: Probe, limit: int = 60):
    names = sorted(rule.arguments)
    choices = [_candidates(app, rule, name, probe) for name in names]
    count = 0
    for combo in itertools.product(*choices):
        values = {name: value for name, (value, _) in zip(names, combo)}
        foreign = [name for name, (_, is_foreign) in zip(names, combo) if is_foreign and name in IDENTIFYING]
        if names and set(names) & IDENTIFYING and not foreign:
            continue  # the prober's own campaign and unit: not this test's business
        yield values, bool(foreign)
        count += 1
        if count >= limit:
            return


def _url(app, rule, values: dict) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and \
        response.headers.get("Location", "").split("?")[0].endswith("/login")


def sweep(app, client, probe: Probe) -> list[str]:
    """Send every route the probe's values; return what went wrong."""
    problems = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            for values, strict in _combinations(app, rule, probe):
                url = _url(app, rule, values)
                response = client.open(url, method=method, data={})
                probe.visited.add(rule.endpoint)
                status = response.status_code
                body = "" if 300 <= status < 400 else response.get_data(as_text=True)
                location = "" if _is_login_redirect(response) else response.headers.get("Location", "")
                response.close()
                where = f"{method} {url} ({rule.endpoint}) -> {status}"
                if status >= 500:
                    problems.append(f"{where}: server error")
                if strict and not (status in (401, 403, 404, 405) or _is_login_redirect(response)):
                    problems.append(f"{where}: names another's data but was not refused")
                for marker in probe.markers:
                    if marker in body or marker in location:
                        problems.append(f"{where}: shows {marker!r}")
    return problems


def _audit_count(**where) -> int:
    query = select(func.count()).select_from(AuditEvent)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.scalar(query)


def _snapshot():
    return (db.session.scalar(select(func.count()).select_from(Submission)),
            db.session.scalar(select(func.count()).select_from(CalendarOverride)),
            sorted(db.session.execute(select(Participation.id, Participation.status)).all()),
            sorted(db.session.execute(select(Campaign.code, Campaign.state, Campaign.deadline)).all()))


def _still_signed_in(client) -> bool:
    response = client.get("/")
    response.close()
    return not _is_login_redirect(response)


# -- another organizer ------------------------------------------------------------------

def test_another_organizer_sees_and_changes_nothing(app, client, world):
    tgg = world["tgg"]
    probe = Probe(
        codes=[("TGG-2019", True), ("BTN-2019", False)],
        unit_codes=[("SYT", True), ("MYTHO-P1", True), ("STC", False), ("PHANTHIET", False)],
        doc_ids=[(world["syt_doc"].id, True), (world["stc_doc"].id, True), (world["btn_doc"].id, False)],
        ids=ids_of_organizer(tgg.organizer_id),
        markers=["ORG7Q", "TGG7Q", "SYT7Q", "vanthu.syt@tiengiang.gov.vn", "Bão số 9", world["syt_doc"].sha256,
                 "Báo cáo mật"])
    before = _snapshot()
    tgg_audit = _audit_count(organizer_id=tgg.organizer_id)
    sign_in(client, "admin@btn.example")
    problems = sweep(app, client, probe)
    assert problems == [], "\n".join(problems)
    assert _still_signed_in(client)
    db.session.expire_all()
    assert _snapshot() == before
    assert _audit_count(organizer_id=tgg.organizer_id) == tgg_audit


# -- another unit of the same organizer ---------------------------------------------------

def test_focal_point_reaches_only_its_own_unit(app, client, world):
    syt_doc = world["syt_doc"]
    probe = Probe(
        codes=[("TGG-2019", False)],
        unit_codes=[("SYT", True), ("MYTHO", True), ("STC", False)],
        doc_ids=[(syt_doc.id, True), (world["stc_doc"].id, False)],
        ids=ids_of_organizer(world["tgg"].organizer_id),
        markers=["SYT7Q", "vanthu.syt@tiengiang.gov.vn", syt_doc.sha256, "Báo cáo mật", "MT7Q"])
    before = _snapshot()
    sign_in(client, "stc@tgg.example")
    problems = sweep(app, client, probe)
    assert problems == [], "\n".join(problems)
    assert _still_signed_in(client)
    db.session.expire_all()
    assert _snapshot() == before
    assert _audit_count(actor="stc@tgg.example") == 0


def test_focal_point_explicit_refusals(app, client, world):
    syt_doc = world["syt_doc"]
    sign_in(client, "stc@tgg.example")
    syt = "/campaigns/TGG-2019/units/SYT"
    stc = "/campaigns/TGG-2019/units/STC"
    files_before = sorted(p.name for p in Path(app.config["UPLOAD_FOLDER"]).iterdir())
    assert client.get(syt).status_code == 404
    assert client.get(f"{syt}/documents/{syt_doc.id}").status_code == 404
    assert client.get(f"{stc}/documents/{syt_doc.id}").status_code == 404  # its own URL, another's document
    response = client.post(f"{syt}/upload", data={"documents": [(io.BytesIO(pdf_bytes()), "a.pdf")]},
                           content_type="multipart/form-data")
    assert response.status_code == 404
    assert client.post(f"{syt}/confirm").status_code == 404
    assert client.get(f"{syt}/calendar.ics").status_code == 404
    with client.get(f"{stc}/documents/{world['stc_doc'].id}") as own:
        assert own.status_code == 200
    assert sorted(p.name for p in Path(app.config["UPLOAD_FOLDER"]).iterdir()) == files_before
    # The ICS token of STC opens STC only.
    tgg, stc_unit = world["tgg"], _unit("TGG", "STC")
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="ics")
    token = serializer.dumps([tgg.id, stc_unit.id])
    anonymous = app.test_client()
    assert anonymous.get(f"{stc}/calendar.ics?token={token}").status_code == 200
    assert anonymous.get(f"{syt}/calendar.ics?token={token}").status_code == 404
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert anonymous.get(f"{stc}/calendar.ics?token={tampered}").status_code == 404
    forged = URLSafeSerializer("another-key", salt="ics").dumps([tgg.id, _unit("TGG", "SYT").id])
    assert anonymous.get(f"{syt}/calendar.ics?token={forged}").status_code == 404
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="other").dumps([tgg.id, _unit("TGG", "SYT").id])
    assert anonymous.get(f"{syt}/calendar.ics?token={other_salt}").status_code == 404
    btn_token = serializer.dumps([world["btn"].id, _unit("BTN", "STC").id])
    assert anonymous.get(f"{stc}/calendar.ics?token={btn_token}").status_code == 404


def test_district_coordinator_sees_its_district_only(app, client, world):
    sign_in(client, "mytho@tgg.example")
    for code in ("MYTHO", "MYTHO-P1"):
        response = client.get(f"/campaigns/TGG-2019/units/{code}")
        assert response.status_code == 200, code
    for code in ("CAIBE-TT", "CAIBE", "STC", "SYT"):
        assert client.get(f"/campaigns/TGG-2019/units/{code}").status_code == 404, code
    probe = Probe(
        codes=[("TGG-2019", False)],
        unit_codes=[("CAIBE-TT", True), ("SYT", True), ("MYTHO-P1", False)],
        doc_ids=[(world["caibe_doc"].id, True), (world["syt_doc"].id, True)],
        ids=ids_of_organizer(world["tgg"].organizer_id),
        markers=["CBTT7Q", "tt.caibe@tiengiang.gov.vn", "SYT7Q", world["caibe_doc"].sha256, world["syt_doc"].sha256])
    before = _snapshot()
    problems = sweep(app, client, probe)
    assert problems == [], "\n".join(problems)
    db.session.expire_all()
    assert _snapshot() == before


# -- signed out ----------------------------------------------------------------------------

def test_anonymous_is_sent_to_sign_in(app, client, world):
    for url in ("/", "/campaigns", "/campaigns/TGG-2019/units/SYT",
                f"/campaigns/TGG-2019/units/SYT/documents/{world['syt_doc'].id}"):
        response = client.get(url)
        assert response.status_code == 302 and _is_login_redirect(response), url
    probe = Probe(
        codes=[("TGG-2019", True)], unit_codes=[("SYT", True)], doc_ids=[(world["syt_doc"].id, True)],
        ids=ids_of_organizer(world["tgg"].organizer_id),
        markers=["ORG7Q", "TGG7Q", "SYT7Q", "vanthu.syt@tiengiang.gov.vn", world["syt_doc"].sha256, "Bão số 9"])
    before = _snapshot()
    problems = sweep(app, client, probe)
    assert problems == [], "\n".join(problems)
    # Pages (HTML, outside the sign-in pages and the API's documentation) send a signed-out person to sign in; what names a campaign or a
    # unit is refused even when it is not a page (the API: 401; the token-opened calendar: 404).  A public
    # probe such as a health check may answer, without anyone's data (checked by the sweep above).
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS or rule.endpoint.startswith("auth.") or "GET" not in rule.methods:
            continue
        for values, _ in itertools.islice(_combinations(app, rule, probe), 1):
            url = _url(app, rule, values)
            response = client.get(url)
            response.close()
            where = f"{url} ({rule.endpoint}) -> {response.status_code} {response.mimetype}"
            if rule.arguments & IDENTIFYING:
                assert _is_login_redirect(response) or response.status_code in (401, 404), where
            elif rule.endpoint == "public.index":
                # The list of published results is public by design (issue 16); nothing is published here, so
                # it must name no campaign (the sweep above also checks it leaks none of the markers).
                assert response.status_code == 200, where
                assert "TGG-2019" not in client.get(url).get_data(as_text=True), where
            elif not rule.endpoint.startswith("api.") and not _is_login_redirect(response):  # API docs are public
                assert response.status_code != 200 or response.mimetype != "text/html", where
    db.session.expire_all()
    assert _snapshot() == before


def test_the_sweep_covers_every_route(app, client, world):
    probe = Probe(codes=[("TGG-2019", True)], unit_codes=[("SYT", True)], doc_ids=[(world["syt_doc"].id, True)],
                  ids=[1], markers=[])
    sweep(app, client, probe)
    expected = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED_ENDPOINTS}
    assert probe.visited == expected


def test_the_organizer_does_see_its_unit(app, client, world):
    """The markers are real: the owner sees them where the others get 404."""
    sign_in(client, "admin@tgg.example")
    html = client.get("/campaigns/TGG-2019/units/SYT").get_data(as_text=True)
    assert "SYT7Q" in html and "TGG7Q" in html and world["syt_doc"].sha256 in html and "Báo cáo mật" in html
    with client.get(f"/campaigns/TGG-2019/units/SYT/documents/{world['syt_doc'].id}") as response:
        assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert re.search(r"calendar\.ics\?token=", html)

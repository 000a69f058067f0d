"""The deadline burst: 500 dossiers uploaded around 24:00 of the deadline day, on gunicorn + PostgreSQL.

    .venv/bin/python bench/burst.py      # BURST_UPLOADS=500 BURST_CLIENTS=50 BURST_WORKERS=4

A private database ``hanchot_burst`` (``flask demo generate``, 600 units, no
dossier yet) whose campaign's deadline is moved to today (local time). gunicorn
(deploy/gunicorn.conf.py, 4 sync workers, ``APP_ENV=development`` because the
clock shift is refused in production) starts with ``HANCHOT_CLOCK_OFFSET_SECONDS``
chosen so that its clock reaches 24:00 local of the deadline day a few seconds
after it is ready. The organizer admin signs in (real POST /login) and takes the
CSRF token from a unit's page; then 500 multipart uploads (``documents``: a real
one-page PDF per unit, different bytes each) go to
``/campaigns/<code>/units/<unit>/upload``, one per unit, their send instants
spread evenly from 2.0 s before midnight (server clock) to 0.5 s after, in two
runs, each on a fresh database and a fresh gunicorn:

* ``open``: many clients, each sending its one upload at its instant (up to 500
  connections at once, queued in gunicorn's backlog): the burst as it comes;
* ``closed``: 50 concurrent clients, each sending its next upload when the last
  one was answered (no earlier than its instant): the server's pace decides.

Then, in the database: 500 submissions stored (none lost, none doubled), each
with its document on disk under the recorded SHA-256 (equal to the SHA-256 of
what was sent), each participation classified by its received instant (before
24:00 local → on_time, from 24:00 → late by ≥ 1 working day), the statuses of
the answers (no 5xx), one audit entry and one receipt mail per dossier, and how
long the dossiers waited between being sent and being received (the server's
clock, taken when a worker runs the view): a dossier sent before 24:00 but
received after it is late.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import (  # noqa: E402
    Gunicorn,
    app_env,
    csrf_token,
    drop_database,
    get,
    in_app,
    login,
    make_accounts,
    multipart,
    percentile,
    platform_line,
    prepare_generated,
    request,
    say,
    small_pdf,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def main() -> int:
    uploads_n = int(os.environ.get("BURST_UPLOADS", "500"))
    clients = int(os.environ.get("BURST_CLIENTS", "50"))
    workers = int(os.environ.get("BURST_WORKERS", "4"))
    modes = os.environ.get("BURST_MODES", "open,closed").split(",")
    say(f"burst: {uploads_n} uploads, send instants from 2 s before 24:00 to 0.5 s after (server clock), "
        f"gunicorn {workers} sync workers")
    say(f"machine: {os.cpu_count()} cores, {platform_line()}")
    ok = True
    for mode in modes:
        n_clients = uploads_n if mode == "open" else clients
        say(f"{mode}: {n_clients} clients" + (", one upload each at its instant" if mode == "open" else
                                             ", each sends its next upload once the last was answered"))
        ok = run(uploads_n, n_clients, workers) and ok
    return 0 if ok else 1


def run(uploads_n: int, clients: int, workers: int) -> bool:
    before_s, after_s = 2.0, 0.5
    name = "hanchot_burst"
    url = prepare_generated(name, units=max(600, uploads_n + 50), env_extra={}, submitted=0)
    # -- the campaign: deadline today (local), nobody has sent yet ----------------------------
    today = datetime.now(TZ).date()

    def setup():
        from sqlalchemy import select, update

        from workflow.db import db
        from workflow.models import Campaign, Participation, Unit

        campaign = db.session.scalar(select(Campaign).where(Campaign.code == "GEN01-001"))
        campaign.deadline = today
        db.session.execute(update(Participation).where(Participation.campaign_id == campaign.id)
                           .values(status="not_submitted", received_at=None))
        units = list(db.session.scalars(select(Unit.code).join(Participation, Participation.unit_id == Unit.id)
                                        .where(Participation.campaign_id == campaign.id).order_by(Unit.code)))
        db.session.commit()
        return campaign.code, campaign.grace_working_days, units

    campaign, grace, units = in_app(url, setup)
    targets = units[:uploads_n]
    accounts = make_accounts(url, campaign, unit_code=units[-1])
    # -- the server's clock: 24:00 local comes LEAD seconds after start -----------------------
    midnight = datetime.combine(today + timedelta(days=1), dtime(0), tzinfo=TZ)
    lead = float(os.environ.get("BURST_LEAD_SECONDS", "25"))
    offset = midnight.timestamp() - (time.time() + lead)
    midnight_real = midnight.timestamp() - offset  # when the server's clock shows 24:00
    uploads = tempfile.mkdtemp(prefix="hanchot-burst-uploads-")
    env = app_env(url, APP_ENV="development", SECRET_KEY=secrets.token_hex(32), UPLOAD_FOLDER=uploads,
                  HANCHOT_CLOCK_OFFSET_SECONDS=f"{offset:.6f}", WEB_ACCESS_LOG="")
    say(f"  campaign {campaign}: deadline {today:%d/%m/%Y} (today), grace {grace} working days; server clock "
        f"shifted by {offset:+.1f} s so that 24:00 local comes {lead:g} s after start")
    pdfs = {u: small_pdf(f"Ho so tu danh gia {campaign} {u} {secrets.token_hex(8)}") for u in targets}
    results: dict[str, tuple] = {}
    lock = threading.Lock()
    with Gunicorn(env, workers) as server:
        cookie = login(server.port, accounts["organizer_admin"])
        status, _, page = get(server.port, f"/campaigns/{campaign}/units/{targets[0]}", cookie)
        if status != 200:
            raise RuntimeError(f"unit page answered {status}")
        token = csrf_token(page)
        for _ in range(2 * workers):  # warm every worker: templates, calendar
            get(server.port, f"/campaigns/{campaign}/units/{units[-1]}", cookie)
        left = midnight_real - time.time()
        if left < before_s + 1:
            raise RuntimeError(f"start-up took too long: only {left:.1f} s left before midnight; "
                               "raise BURST_LEAD_SECONDS")
        say(f"  ready; server midnight in {left:.1f} s")
        first = midnight_real - before_s
        step = (before_s + after_s) / uploads_n
        schedule = [(first + i * step, targets[i]) for i in range(uploads_n)]

        def client(mine):
            for at, unit in mine:  # bounded: its own slots
                wait = at - time.time()
                if wait > 0:
                    time.sleep(wait)
                body, ctype = multipart({"csrf_token": token},
                                        [("documents", f"Bao cao tu danh gia {unit}.pdf", pdfs[unit], "application/pdf")])
                sent = time.time()
                try:
                    st, headers, _ = request(server.port, "POST", f"/campaigns/{campaign}/units/{unit}/upload",
                                             {"Cookie": cookie, "Content-Type": ctype}, body, timeout=120)
                except (OSError, http.client.HTTPException) as exc:
                    st = f"error:{exc.__class__.__name__}"
                done = time.time()
                with lock:
                    results[unit] = (st, sent, done)

        threads = [threading.Thread(target=client, args=(schedule[j::clients],), daemon=True) for j in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=before_s + after_s + 300)
        elapsed = max((r[2] for r in results.values()), default=first) - first
        gunicorn_log = server.log_path
    # -- what was stored ------------------------------------------------------------------------
    codes = Counter(r[0] for r in results.values())
    say(f"  answers: {dict(codes)} {elapsed:.1f} s after the first send ({before_s:g} s before midnight); "
        f"5xx: {sum(n for c, n in codes.items() if isinstance(c, int) and c >= 500)}; "
        f"no answer: {uploads_n - len(results)}")

    def check():
        from sqlalchemy import func, select

        from notifications.models import OutboxMail
        from workflow.db import db
        from workflow.models import AuditEvent, Campaign, Participation, Submission, SubmissionDocument, Unit

        c = db.session.scalar(select(Campaign).where(Campaign.code == campaign))
        rows = db.session.execute(
            select(Unit.code, Participation.status, Participation.received_at, Participation.late_working_days,
                   Submission.id, Submission.received_at, Submission.version, SubmissionDocument.stored_name,
                   SubmissionDocument.sha256, SubmissionDocument.size)
            .join(Participation, Participation.unit_id == Unit.id)
            .join(Submission, Submission.participation_id == Participation.id)
            .outerjoin(SubmissionDocument, SubmissionDocument.submission_id == Submission.id)
            .where(Participation.campaign_id == c.id)).all()
        audits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.campaign_id == c.id, AuditEvent.action == "submission.received"))
        receipts = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.campaign_id == c.id, OutboxMail.kind == "receipt"))
        return [tuple(r) for r in rows], audits, receipts

    rows, audits, receipts = in_app(url, check)
    by_unit: dict[str, list] = {}
    for r in rows:
        by_unit.setdefault(r[0], []).append(r)
    stored = set(by_unit)
    answered_ok = {u for u, r in results.items() if r[0] == 303}
    lost = answered_ok - stored
    doubled = [u for u, rs in by_unit.items() if len(rs) > 1]
    bad_doc = []
    misclassified = []
    on_time = late = 0
    delays, queued_late = [], []
    for unit, rs in by_unit.items():
        code, status, p_received, late_days, sid, s_received, version, stored_name, sha, size = rs[-1]
        path = Path(uploads) / (stored_name or "-")
        expected = hashlib.sha256(pdfs[unit]).hexdigest() if unit in pdfs else None
        if not stored_name or not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha \
                or sha != expected:
            bad_doc.append(unit)
        want = "on_time" if s_received < midnight else "late"
        if status != want or p_received != s_received or (want == "late" and late_days < 1):
            misclassified.append((unit, status, s_received.astimezone(TZ).isoformat()))
        on_time += status == "on_time"
        late += status == "late"
        if unit in results:
            sent_server = results[unit][1] + offset  # the server's clock when the client sent
            delay = s_received.timestamp() - sent_server
            delays.append(delay)
            if sent_server < midnight.timestamp() <= s_received.timestamp():
                queued_late.append(unit)
    sent_before = sum(1 for u, r in results.items() if r[1] + offset < midnight.timestamp())
    files_on_disk = [p for p in Path(uploads).iterdir() if p.is_file()]
    referenced = {r[7] for r in rows if r[7]}
    say(f"  stored: {len(stored)} submissions for {uploads_n} uploads; answered 303 but not stored (lost): "
        f"{len(lost)}; units with more than one version: {len(doubled)}; audit entries: {audits}; receipt mails "
        f"queued: {receipts}")
    say(f"  documents: {len(stored) - len(bad_doc)} on disk with the recorded SHA-256 equal to the SHA-256 sent, "
        f"{len(bad_doc)} not; files on disk of no submission: {len(set(p.name for p in files_on_disk) - referenced)}")
    say(f"  classified by received instant: on_time {on_time}, late {late}; inconsistent with its received "
        f"instant: {len(misclassified)}" + (f" e.g. {misclassified[:3]}" if misclassified else ""))
    if delays:
        ds = sorted(delays)
        say(f"  sent → received (server clock): p50 {1000 * percentile(ds, 50):.0f} ms, p95 "
            f"{1000 * percentile(ds, 95):.0f} ms, max {1000 * ds[-1]:.0f} ms; {sent_before} sent before 24:00, "
            f"{on_time} received before 24:00; {len(queued_late)} sent before 24:00 but received after it "
            f"(waiting for a worker) and so classified late")
    rtts = sorted(r[2] - r[1] for r in results.values())
    say(f"  client round trip: p50 {1000 * percentile(rtts, 50):.0f} ms, p95 {1000 * percentile(rtts, 95):.0f} ms; "
        f"throughput {len(results) / max(1e-9, max(r[2] for r in results.values()) - min(r[1] for r in results.values())):.1f} uploads/s")
    ok = not lost and not doubled and not bad_doc and not misclassified and len(stored) == uploads_n \
        and all(isinstance(c, int) and c < 500 for c in codes)
    say(f"  verdict: {'all stored, each classified by its received instant, none lost, no 5xx' if ok else 'PROBLEMS above'}")
    shutil.rmtree(uploads, ignore_errors=True)
    if os.environ.get("BURST_KEEP_DB") != "1":
        drop_database(name)
    _ = gunicorn_log
    return ok


if __name__ == "__main__":
    sys.exit(main())

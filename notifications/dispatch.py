"""The dispatcher: send pending outbox rows through Flask-Mail, each exactly once.

- Rows are claimed in one statement (``UPDATE … WHERE id IN (SELECT … FOR
  UPDATE SKIP LOCKED) RETURNING``), so two dispatchers never take the same row;
  on SQLite the database's single writer gives the same guarantee.
- One SMTP connection per batch (Flask-Mail's, with a socket timeout, which
  Flask-Mail does not set), one message per recipient, the row's stable
  Message-ID.  The message itself is built by notifications/mime.py, not by
  Flask-Mail (whose 8-bit bodies break the 998-octet line limit).
- Exactly once across a crash: SMTP delivers a message only when the final
  ``<CRLF>.<CRLF>`` of DATA arrives.  The dispatcher sends envelope and content,
  then commits the row as sent, then sends the terminator.  Killed before the
  commit, the server drops the half-sent message and the row is sent again
  after its lease; killed after it, the row is sent and the server has it.
  Only a kill in the microseconds between the commit's acknowledgement and the
  terminator's write loses a message (README, "Mail delivery").
- 4xx answers and connection failures are retried with exponential backoff;
  5xx answers mark the row failed with the server's answer, and the batch goes on.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import flask_mail
from flask import current_app
from flask_mail import Mail
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from workflow import revisions
from workflow.db import UTCDateTime, affected, db, utcnow
from workflow.models import Campaign, Participation

from .mime import build_message, envelope_sender
from .models import OutboxMail
from .queue import REMINDER_KINDS, render_missing, still_true

log = logging.getLogger(__name__)

mail = Mail()

WORKER_ID = f"cli:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TimeoutConnection(flask_mail.Connection):
    """Flask-Mail's connection, with a socket timeout on connect and every reply."""

    def configure_host(self):
        timeout = current_app.config.get("MAIL_TIMEOUT", 30)
        host: smtplib.SMTP
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        # The terminator goes out as a small write after the content: without
        # TCP_NODELAY, Nagle's algorithm holds it for the server's delayed ACK
        # (~40 ms a message).
        if host.sock is not None:  # connected: the constructor connects or raises
            host.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"claimed": self.claimed, "sent": self.sent, "retried": self.retried, "failed": self.failed,
                "dropped": self.dropped}


class _ClaimLost(Exception):
    """Another dispatcher took the row back (our lease ran out)."""


class _InDoubt(Exception):
    """The connection failed after the whole message was sent."""


class _Refused(Exception):
    def __init__(self, code: int, answer: str):
        super().__init__(f"{code} {answer}")
        self.code, self.answer = code, answer


def backoff(attempts: int) -> timedelta:
    base = float(current_app.config.get("MAIL_RETRY_BASE_SECONDS", 30))
    cap = float(current_app.config.get("MAIL_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


#: Marking a row sent need not wait for the disk: a crash of this process loses
#: nothing the database acknowledged; only a crash of the database server itself
#: could lose the last marks (those mails would go again).
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")
#: One short statement a message (the ORM's unit of work costs more than the SMTP
#: exchange on loopback); only the claimant may mark its row.
_MARK_SENT = text("UPDATE outbox_mail SET status = 'sent', sent_at = :sent_at, attempts = attempts + 1, "
                  "last_error = '' WHERE id = :id AND claimed_by = :worker AND status = 'sending'").bindparams(
    bindparam("sent_at", type_=UTCDateTime()))


def reclaim_expired_leases(now: datetime) -> int:
    """Rows claimed by a dispatcher that died go back to pending."""
    result = db.session.execute(
        update(OutboxMail).where(OutboxMail.status == "sending", OutboxMail.lease_until < now)
        .values(status="pending", claimed_by="", last_error="claim expired: the dispatcher stopped")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return affected(result)


def claim(now: datetime, limit: int, worker: str = WORKER_ID) -> list[OutboxMail]:
    lease = timedelta(seconds=float(current_app.config.get("MAIL_LEASE_SECONDS", 120)))
    bind = db.session.get_bind()
    pick = (select(OutboxMail.id).where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.id).limit(limit))
    if bind.dialect.name == "postgresql":
        # Lock the picked rows in this transaction; another dispatcher skips
        # them.  (Not a subquery of the UPDATE: PostgreSQL may run such a
        # subquery more than once and so claim more than ``limit`` rows.)
        pick = pick.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(pick))
    if ids:
        # On SQLite the database's single writer serializes claims; the
        # status condition makes a row claimed by someone else stay theirs.
        ids = list(db.session.scalars(
            update(OutboxMail).where(OutboxMail.id.in_(ids), OutboxMail.status == "pending")
            .values(status="sending", claimed_by=worker, lease_until=now + lease)
            .returning(OutboxMail.id).execution_options(synchronize_session=False)))
    db.session.commit()
    if not ids:
        return []
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids)).order_by(OutboxMail.id)))


def message_of(row: OutboxMail):
    """The message as sent (notifications/mime.py: every line within RFC 5322's limits)."""
    return build_message(sender=current_app.config["MAIL_DEFAULT_SENDER"], recipient=row.recipient,
                         subject=row.subject, text=row.body_text, html=row.body_html or None,
                         message_id=row.message_id,
                         headers={"Auto-Submitted": "auto-generated", "X-Han-Chot-Key": row.key[:200]})


def _send_two_phase(host: smtplib.SMTP, sender: str, recipient: str, payload: bytes, commit_sent) -> None:
    """MAIL, RCPT, DATA and content; ``commit_sent()``; then the terminator."""
    host.ehlo_or_helo_if_needed()
    code, answer = host.mail(sender)
    if code != 250:
        host.rset()
        raise _Refused(code, answer.decode(errors="replace"))
    code, answer = host.rcpt(recipient)
    if code not in (250, 251):
        host.rset()
        raise _Refused(code, answer.decode(errors="replace"))
    host.putcmd("data")
    code, answer = host.getreply()
    if code != 354:
        host.rset()
        raise _Refused(code, answer.decode(errors="replace"))
    # What smtplib.data() does, with line ends made CRLF as SMTP requires.
    body = re.sub(rb"(?m)^\.", b"..", re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", payload))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    host.send(body)
    commit_sent()
    host.send(b".\r\n")
    try:
        code, answer = host.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        # The message is complete at the server; most likely delivered.
        raise _InDoubt(str(exc)) from exc
    if code != 250:
        raise _Refused(code, answer.decode(errors="replace"))


def dispatch(now: datetime | None = None, batch_size: int | None = None, worker: str | None = None) -> DispatchResult:
    """Send one batch of due rows; returns what happened to them."""
    result = DispatchResult()
    if not current_app.config.get("MAIL_SERVER"):
        return result  # mail stays in the outbox, readable in the app
    now = now or utcnow()
    batch_size = batch_size or int(current_app.config.get("MAIL_BATCH_SIZE", 200))
    reclaim_expired_leases(now)
    rows = claim(now, batch_size, worker or WORKER_ID)
    result.claimed = len(rows)
    if not rows:
        return result
    rows = _drop_stale(rows, now, result)
    if not rows:
        return result
    if render_missing(rows):
        db.session.commit()  # the text as sent stays on record
    sender = envelope_sender(current_app.config["MAIL_DEFAULT_SENDER"])
    connection = TimeoutConnection(current_app.extensions["mail"])
    try:
        host = connection.configure_host()
    except (OSError, smtplib.SMTPException) as exc:
        _retry_all(rows, f"connection failed: {exc}", result, now)
        return result
    worker = worker or WORKER_ID
    postgres = db.session.get_bind().dialect.name == "postgresql"
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        for index, row in enumerate(rows):
            payload = message_of(row).as_bytes()

            def commit_sent(row=row):
                if postgres:
                    db.session.execute(_ASYNC_COMMIT)
                sent_at = utcnow()
                marked = affected(db.session.execute(_MARK_SENT, {"id": row.id, "worker": worker, "sent_at": sent_at}))
                if marked and row.kind in REMINDER_KINDS and row.campaign_id is not None:
                    # The dashboard counts reminders sent: its kept page must go with this mark.
                    revisions.bump(db.session(), [(revisions.CAMPAIGN_UNITS, row.campaign_id)])
                db.session.commit()
                if not marked:  # our claim was taken back: never complete this message
                    raise _ClaimLost(f"row {row.id} is no longer claimed by {worker}")
                for name, value in (("status", "sent"), ("sent_at", sent_at), ("attempts", row.attempts + 1),
                                    ("last_error", "")):
                    set_committed_value(row, name, value)

            try:
                _send_two_phase(host, sender, row.recipient, payload, commit_sent)
                result.sent += 1
            except _Refused as exc:
                _answered(row, exc, result, now)
            except _InDoubt as exc:
                # Kept as sent (sending again could deliver it twice); noted.
                row.last_error = f"no reply after the message was sent: {exc}"[:2000]
                db.session.commit()
                result.sent += 1
                _retry_all(rows[index + 1:], f"connection lost: {exc}", result, now)
                return result
            except (OSError, smtplib.SMTPException, _ClaimLost) as exc:
                # The connection is gone (or the row is not ours any more):
                # this row and the rest wait and retry; the server drops the
                # unfinished message when the connection closes.
                _retry_all(rows[index:], f"connection lost: {exc}", result, now)
                host.close()
                return result
    finally:
        session.expire_on_commit = expire_on_commit
        try:
            host.quit()
        except (OSError, smtplib.SMTPException, AttributeError):
            host.close()
    return result


def _answered(row: OutboxMail, exc: _Refused, result: DispatchResult, now: datetime) -> None:
    """A 4xx or 5xx answer to this message (the row may have been marked sent)."""
    row.attempts = row.attempts if row.status == "sent" else row.attempts + 1
    row.sent_at = None
    row.last_error = f"{exc.code} {exc.answer}"[:2000]
    max_attempts = int(current_app.config.get("MAIL_MAX_ATTEMPTS", 12))
    if 500 <= exc.code < 600 or row.attempts >= max_attempts:
        row.status = "failed"
        result.failed += 1
        log.warning("mail %s to %s failed: %s", row.id, row.recipient, row.last_error)
    else:
        row.status, row.claimed_by = "pending", ""
        row.next_attempt_at = now + backoff(row.attempts)
        result.retried += 1
    db.session.commit()


def _retry_all(rows: list[OutboxMail], reason: str, result: DispatchResult, now: datetime) -> None:
    for row in rows:
        if row.status in ("sent", "failed", "dropped"):
            continue
        row.attempts += 1
        row.status, row.claimed_by, row.last_error = "pending", "", reason[:2000]
        row.next_attempt_at = now + backoff(row.attempts)
        result.retried += 1
    db.session.commit()
    log.warning("mail: %d row(s) will retry: %s", len(rows), reason)


def _drop_stale(rows: list[OutboxMail], now: datetime, result: DispatchResult) -> list[OutboxMail]:
    """Drop reminders that stopped being true; one query for their units' status."""
    reminders = [r for r in rows if r.kind in REMINDER_KINDS]
    if not reminders:
        return rows
    campaign_ids = {r.campaign_id for r in reminders}
    campaigns = {c.id: c for c in db.session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
    statuses = {(c, u): s for c, u, s in db.session.execute(
        select(Participation.campaign_id, Participation.unit_id, Participation.status)
        .where(Participation.campaign_id.in_(campaign_ids),
               Participation.unit_id.in_({r.unit_id for r in reminders})))}
    keep = []
    for row in rows:
        why = still_true(row, campaigns.get(row.campaign_id or 0), statuses.get((row.campaign_id or 0, row.unit_id or 0)),
                         now) if row.kind in REMINDER_KINDS else None
        if why:
            row.status, row.last_error, row.claimed_by = "dropped", f"dropped: {why}", ""
            result.dropped += 1
        else:
            keep.append(row)
    db.session.commit()
    return keep


def dispatch_all(now: datetime | None = None, max_batches: int = 1000, worker: str | None = None) -> DispatchResult:
    """Send batches until nothing is due (or a connection problem stops it)."""
    total = DispatchResult()
    for _ in range(max_batches):
        r = dispatch(now, worker=worker)
        for name in ("claimed", "sent", "retried", "failed", "dropped"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        if r.claimed == 0 or r.retried:
            break
    return total

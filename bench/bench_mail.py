"""Mails per second from the outbox into a local aiosmtpd, beside a bare smtplib loop.

The SMTP server (aiosmtpd) runs in its own process, as a real server would.
Both loops send the same N messages over one SMTP connection, and both build
each message with notifications/mime.py (the same bytes: UTF-8 parts in
quoted-printable or base64, RFC 2047 subjects); the outbox run also claims the
rows and marks each one sent in the database before the end of its DATA
(two-phase, see notifications/dispatch.py).  Prints both rates and their
ratio (goal ≥ 0.8).

    .venv/bin/python bench/bench_mail.py [N] [--database URL]
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

SERVER = """
import asyncio, signal, sys, threading
from aiosmtpd.controller import Controller
count = 0
class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        return "250 OK"
c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.readline()
c.stop()
print(count, flush=True)
"""


class ServerProcess:
    """aiosmtpd in a process of its own; stop() returns how many messages it accepted."""

    def __init__(self):
        import subprocess

        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> int:
        out, _ = self.proc.communicate("stop\n", timeout=30)
        return int(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--database", default="")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-mail-")
    url = args.database or f"sqlite:///{tmp}/bench.sqlite3"
    server = ServerProcess()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": server.port,
                      "MAIL_BATCH_SIZE": args.n, "UPLOAD_FOLDER": tmp})
    from flask_migrate import upgrade
    from sqlalchemy import text

    from notifications.dispatch import dispatch, message_of
    from notifications.mime import longest_line
    from notifications.models import OutboxMail
    from notifications.queue import insert_rows
    from workflow.db import db

    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        body = ("Kính gửi: Sở Tài chính\n\nĐơn vị chưa gửi hồ sơ. Hạn chót: hết 24:00 Thứ Sáu 25/10/2019.\n" * 6)
        bare_times, our_times, sent = [], [], 0
        per_round = max(1, args.n // args.rounds)
        # Interleaved rounds, so that whatever else the machine does weighs on both alike.
        for r in range(args.rounds):
            now = datetime.now(UTC)
            rows = [{
                "key": f"bench:{r}:{i}", "campaign_id": None, "unit_id": None, "kind": "receipt",
                "occurrence": str(i), "recipient": f"unit{i}@example.gov.vn", "language": "vi",
                "subject": f"[BENCH] Biên nhận hồ sơ {r}-{i}", "body_text": body, "body_html": f"<p>{body}</p>",
                "message_id": f"<bench-{r}-{i}@han-chot.local>", "status": "pending", "attempts": 0,
                "next_attempt_at": now - timedelta(seconds=1), "expires_at": None, "planned_deadline": None,
                "claimed_by": "", "last_error": "", "created_at": now} for i in range(per_round)]
            insert_rows(rows)
            db.session.commit()
            # The bare loop builds and sends the very messages the dispatcher sends.
            messages = list(db.session.scalars(db.select(OutboxMail).where(OutboxMail.status == "pending")))
            sample_message = message_of(messages[0])
            sample = sample_message.as_bytes()
            encodings = {str(part["Content-Transfer-Encoding"]) for part in sample_message.walk()
                         if not part.is_multipart()}
            db.session.rollback()

            start = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
                for row in messages:
                    smtp.sendmail("han-chot@localhost", [row.recipient], message_of(row).as_bytes())
            bare_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            result = dispatch(datetime.now(UTC), batch_size=per_round)
            our_times.append(time.perf_counter() - start)
            assert result.sent == per_round, result
            sent += result.sent
    received = server.stop()
    assert received == 2 * sent, received
    bare, ours = sum(bare_times), sum(our_times)
    bare_rate, our_rate = sent / bare, sent / ours
    ratios = sorted(b / o for b, o in zip(bare_times, our_times))
    median = ratios[len(ratios) // 2]
    print(f"database: {url.split('://')[0]}; {args.rounds} interleaved rounds of {per_round} mails; "
          f"message {len(sample)} bytes, longest line {longest_line(sample)} octets, "
          f"parts {', '.join(sorted(encodings))}")
    print(f"{'method':42} {'mails':>6} {'seconds':>8} {'mails/s':>9}")
    print(f"{'bare smtplib loop, one connection':42} {sent:6d} {bare:8.2f} {bare_rate:9.0f}")
    print(f"{'outbox dispatcher (claim, send, mark sent)':42} {sent:6d} {ours:8.2f} {our_rate:9.0f}")
    print("ratio per round: " + " ".join(f"{b / o:.2f}" for b, o in zip(bare_times, our_times)))
    print(f"ratio outbox / bare = {median:.2f} median of {args.rounds} interleaved rounds, "
          f"{our_rate / bare_rate:.2f} overall (goal >= 0.8: {'met' if median >= 0.8 else 'NOT met'})")


if __name__ == "__main__":
    main()

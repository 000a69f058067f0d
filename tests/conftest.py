"""Fixtures: an app on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.

Every test that uses ``app`` runs once per database.  The schema is built by
the real migrations (``flask db upgrade`` from empty) once per database and
session; each test starts from empty tables.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from app import create_app  # noqa: E402
from workflow.db import db  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
EXAMPLES = ROOT / "examples"


def pytest_report_header(config):
    if PG_URL:
        return f"databases: SQLite and PostgreSQL ({PG_URL})"
    return ("databases: SQLite only — the PostgreSQL half of the suite is SKIPPED because TEST_DATABASE_URL "
            "is not set (.ci/run sets it)")


def local(*args) -> datetime:
    """An aware instant in Vietnam time: local(2019, 10, 25, 23, 59, 59)."""
    return datetime(*args, tzinfo=VN)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL half skipped: TEST_DATABASE_URL is not set")
        return PG_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")


@pytest.fixture(scope="session")
def migrated(database_url, tmp_path_factory):
    """Build the schema from empty with the real migrations."""
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                      "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads"))})
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()
    return database_url


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app(migrated, tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated,
                      "UPLOAD_FOLDER": str(tmp_path / "uploads"), "WTF_CSRF_ENABLED": False})
    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def count_statements(app):
    """Count SQL statements inside a ``with count_statements() as counter:`` block."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = {"n": 0, "sql": []}

        def before(conn, cursor, statement, parameters, context, executemany):
            counter["n"] += 1
            counter["sql"].append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; the app is pointed at it with ``mail_app``."""
    from tests.smtp_server import SMTPServer

    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(app, smtp_server):
    """The app, sending real SMTP to the test server."""
    from notifications.dispatch import mail

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=5,
                      MAIL_RETRY_BASE_SECONDS=60, MAIL_DEFAULT_SENDER="thidua@stttt.example.gov.vn")
    mail.init_app(app)
    return app


def import_example(runner, name: str, now: str = "2019-10-08T08:00:00+07:00"):
    result = runner.invoke(args=["campaign", "import", str(EXAMPLES / name), "--now", now])
    assert result.exit_code == 0, result.output
    return result

"""The received instant of an upload: when the request reached us, not when a worker got to it."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import VN, local, login
from workflow.db import db
from workflow.models import Participation, Unit

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def upload(client, stamp: datetime | None):
    from io import BytesIO

    headers = {"X-Request-Start": f"t={stamp.timestamp():.3f}"} if stamp else {}
    return client.post("/campaigns/TGG-2019/units/STC/upload", headers=headers,
                       data={"documents": (BytesIO(PDF), "bao-cao.pdf")}, content_type="multipart/form-data")


def status_of(code: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Participation.status).join(Unit).where(Unit.code == code))


def test_a_dossier_stamped_before_midnight_by_the_proxy_is_on_time(app, client, two_provinces):
    """Deadline Friday 25/10/2019: stamped 23:59:59.500 by the proxy, handled at 00:00:03."""
    app.config["TRUST_REQUEST_START"] = True
    with time_machine.travel(local(2019, 10, 25, 20, 0), tick=False):
        login(client, "stc@tgg.example")
    with time_machine.travel(local(2019, 10, 26, 0, 0, 3), tick=False):
        r = upload(client, datetime(2019, 10, 25, 23, 59, 59, 500000, tzinfo=VN))
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    assert status_of("STC") == "on_time"


def test_without_trust_the_stamp_is_ignored(app, client, two_provinces):
    app.config["TRUST_REQUEST_START"] = False
    with time_machine.travel(local(2019, 10, 25, 20, 0), tick=False):
        login(client, "stc@tgg.example")
    with time_machine.travel(local(2019, 10, 26, 0, 0, 3), tick=False):
        upload(client, datetime(2019, 10, 25, 23, 59, 59, tzinfo=VN))
    assert status_of("STC") == "late"


def test_an_implausible_stamp_is_ignored(app, client, two_provinces):
    app.config["TRUST_REQUEST_START"] = True
    with time_machine.travel(local(2019, 10, 25, 20, 0), tick=False):
        login(client, "stc@tgg.example")
    with time_machine.travel(local(2019, 10, 26, 0, 0, 3), tick=False):
        # An hour old: not a queue, a forged or broken header.
        upload(client, datetime(2019, 10, 26, 0, 0, 3, tzinfo=VN) - timedelta(hours=1))
    assert status_of("STC") == "late"


def test_a_database_outage_is_a_clean_503_then_recovers(client, two_provinces, monkeypatch):
    """PostgreSQL restarting: pages answer 503 in Vietnamese (not 500, not a sign-in page), then work again."""
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    login(client, "admin@tgg.example")
    assert client.get("/campaigns/TGG-2019").status_code == 200

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    with monkeypatch.context() as m:
        for name in ("execute", "scalar", "scalars", "get"):
            m.setattr(Session, name, down)
        m.setattr(Connection, "execute", down)  # the page cache reads its counters through Core
        for path in ("/campaigns/TGG-2019", "/campaigns/TGG-2019/units/STC", "/readyz"):
            r = client.get(path)
            assert r.status_code == 503, (path, r.status_code)
        assert "tạm thời không truy cập được cơ sở dữ liệu" in client.get("/campaigns").get_data(as_text=True)
        api = client.get("/api/v1/campaigns", headers={"Authorization": "Bearer hc_8932ec46_" + "a" * 43})
        assert api.status_code == 503 and api.mimetype == "application/problem+json"
    assert client.get("/campaigns/TGG-2019").status_code == 200  # still signed in, no restart


def test_the_database_going_away_mid_request_is_a_503_not_a_500(app, client, two_provinces, monkeypatch):
    """PostgreSQL restarted while an upload runs, after the user was loaded: the rollback expires the
    user, and the 503 page must not ask the dead database for the user's language or name."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from workflow import campaigns as reads
    from workflow import operations

    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        login(client, "stc@tgg.example")
        state = {"down": False}
        execute, timeline_of = Session.execute, reads.timeline_of

        def maybe_down(self, *args, **kwargs):
            if state["down"]:
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
            return execute(self, *args, **kwargs)

        def going_down(*args, **kwargs):
            state["down"] = True
            return timeline_of(*args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(Session, "execute", maybe_down)
            m.setattr(operations, "timeline_of", going_down)
            r = client.post("/campaigns/TGG-2019/units/STC/upload",
                            data={"documents": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf")]},
                            content_type="multipart/form-data")
        assert r.status_code == 503
        assert "tạm thời không truy cập được cơ sở dữ liệu" in r.get_data(as_text=True)
        assert client.get("/campaigns/TGG-2019/units/STC").status_code == 200  # back, still signed in


def test_connections_the_server_closed_are_replaced_before_use(app, client, two_provinces):
    """The server closes every pooled connection (a restart, pg_terminate_backend): the next requests
    get fresh ones, with no error and no SELECT 1 per request (workflow/db.py)."""
    import time

    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    if db.engine.dialect.name != "postgresql":
        pytest.skip("closing a pooled connection from the server side is PostgreSQL's (SQLite has no server)")
    assert not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
    with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
        login(client, "admin@tgg.example")
        assert client.get("/campaigns/TGG-2019").status_code == 200
        assert db.engine.pool.checkedin() >= 1
        db.session.remove()
        admin = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool,
                              isolation_level="AUTOCOMMIT")
        others = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with admin.connect() as conn:
            killed = [pid for (pid,) in conn.execute(others)]
            assert killed
            for pid in killed:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(100):  # until the server has closed them
                if not set(killed) & {pid for (pid,) in conn.execute(others)}:
                    break
                time.sleep(0.05)
        admin.dispose()
        for path in ("/campaigns/TGG-2019", "/campaigns/TGG-2019/units/STC", "/campaigns/TGG-2019/audit"):
            assert client.get(path).status_code == 200, path


def test_the_connection_check_works_with_descriptors_beyond_1024(app, client, two_provinces):
    """A busy worker's sockets and files push a new database connection past descriptor 1024, where
    select() refuses to look: the check must not turn every request into an error."""
    import os
    import resource

    import pytest

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the socket check is for PostgreSQL connections (SQLite has none)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}: cannot reach descriptor 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200) if hard == resource.RLIM_INFINITY
                                                else min(max(soft, 1200), hard), hard))
    held = []
    try:
        with time_machine.travel(local(2019, 10, 24, 9, 0), tick=False):
            login(client, "admin@tgg.example")
            db.session.remove()
            db.engine.dispose()  # the next connection is a new one, on a high descriptor
            held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1050)]
            assert client.get("/campaigns/TGG-2019").status_code == 200
            assert db.session.connection().connection.dbapi_connection.fileno() >= 1024
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

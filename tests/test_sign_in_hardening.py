"""Issue 13, "Sign-in and sessions": what did not hold when the service was attacked.

Sessions end everywhere on sign-out and on a new password (a copied cookie stops working, kept pages
included), and 8 hours after sign-in however often they are used; a sign-in link is spent once even
by six parallel uses; rate limits hold under concurrency and cannot lock a person out from their own
address; behind the proxy the client's address is the real one; link mails are throttled; an unknown
address costs a password hash too; tokens travel in no request line; the development key serves
loopback only.  Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import ConfigError, create_app
from notifications.models import OutboxMail
from tests.conftest import PASSWORD, IsolatedClient, login
from workflow import accounts
from workflow.db import db
from workflow.models import LoginAttempt, LoginToken

ATTACKER = "203.0.113.66"


def _mailed_link(kind: str, recipient: str) -> tuple[str, str]:
    db.session.expire_all()
    row = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == kind, OutboxMail.recipient == recipient)
                             .order_by(OutboxMail.id.desc())).first()
    assert row is not None, f"no {kind} mail to {recipient}"
    match = re.search(r"https?://[^/\s]+(/[^\s#]*)#([\w\-]+)", row.body_text)
    assert match, row.body_text
    return match.group(1), match.group(2)


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def _parallel(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# -- sessions -------------------------------------------------------------------------------------------------------

def test_signing_out_ends_a_copied_session_too_and_kept_pages_are_not_served_to_it(app, client, two_provinces):
    login(client, "admin@tgg.example")
    thief = app.test_client()
    _copy_cookie(client, thief)
    for _ in range(2):  # the second answer comes from the page cache
        assert thief.get("/campaigns/TGG-2019").status_code == 200
    assert client.post("/logout").status_code == 302
    assert thief.get("/campaigns/TGG-2019").status_code == 302  # the kept page: refused in its one query
    assert thief.get("/campaigns").status_code == 302  # a page drawn each time: refused by the loader


def test_a_password_reset_ends_every_session_of_the_account(app, client, two_provinces):
    login(client, "syt@tgg.example")
    elsewhere = app.test_client()
    _copy_cookie(client, elsewhere)
    assert elsewhere.get("/campaigns/TGG-2019/units/SYT").status_code == 200
    resetting = app.test_client()
    assert resetting.post("/password/forgot", data={"email": "syt@tgg.example"}).status_code == 302
    path, token = _mailed_link("password_reset", "syt@tgg.example")
    done = resetting.post(path, data={"token": token, "password": "mat-khau-moi-2026", "confirm": "mat-khau-moi-2026"})
    assert done.status_code == 302
    assert elsewhere.get("/campaigns/TGG-2019/units/SYT").status_code == 302
    assert client.get("/campaigns/TGG-2019/units/SYT").status_code == 302
    # The session of the reset itself is the new one, and works.
    assert resetting.get("/campaigns/TGG-2019/units/SYT").status_code == 200
    # The token is spent: a second use changes nothing.
    again = app.test_client().post(path, data={"token": token, "password": "encore-une-fois-26",
                                               "confirm": "encore-une-fois-26"})
    assert again.headers["Location"].endswith("/password/forgot")


def test_a_session_ends_eight_hours_after_sign_in_however_often_it_is_used(client, two_provinces):
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        login(client, "admin@tgg.example")
    for hours in (2, 4, 6, 7.9):  # each use renews the cookie: it never idles out
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            assert client.get("/campaigns").status_code == 200
    with time_machine.travel(start + timedelta(hours=8, minutes=5), tick=False):
        assert client.get("/campaigns").status_code == 302
        assert client.get("/campaigns/TGG-2019").status_code == 302


# -- single-use links -----------------------------------------------------------------------------------------------

def test_six_parallel_uses_of_a_sign_in_link_give_exactly_one_session(app, client, two_provinces):
    client.post("/login/link", data={"email": "stc@tgg.example"})
    path, token = _mailed_link("signin_link", "stc@tgg.example")
    clients = [app.test_client() for _ in range(6)]
    answers = _parallel(6, lambda i: clients[i].post(path, data={"token": token}).headers["Location"])
    signed_in = [c for c, where in zip(clients, answers, strict=True) if not where.endswith("/login")]
    assert len(signed_in) == 1, answers
    assert sum(c.get("/campaigns/TGG-2019/units/STC").status_code == 200 for c in clients) == 1


def test_a_new_link_and_a_used_link_spend_the_older_unused_ones(app, client, two_provinces):
    client.post("/login/link", data={"email": "stc@tgg.example"})
    first = _mailed_link("signin_link", "stc@tgg.example")
    client.post("/login/link", data={"email": "stc@tgg.example"})
    second = _mailed_link("signin_link", "stc@tgg.example")
    assert first != second
    assert app.test_client().post(first[0], data={"token": first[1]}).headers["Location"].endswith("/login")
    assert not app.test_client().post(second[0], data={"token": second[1]}).headers["Location"].endswith("/login")
    assert db.session.scalar(select(func.count()).select_from(LoginToken).where(LoginToken.used_at.is_(None))) == 0


# -- rate limits ----------------------------------------------------------------------------------------------------

def test_twelve_parallel_wrong_passwords_meet_a_limit_of_five(app, two_provinces):
    clients = [app.test_client() for _ in range(12)]
    codes = _parallel(12, lambda i: clients[i].post("/login", data={"email": "stc@tgg.example",
                                                                   "password": f"sai-mat-khau-{i:02}"}).status_code)
    assert sorted(codes) == [200] * accounts.MAX_FAILURES_PER_EMAIL + [429] * (12 - accounts.MAX_FAILURES_PER_EMAIL)
    blocked = app.test_client().post("/login", data={"email": "stc@tgg.example", "password": PASSWORD})
    assert blocked.status_code == 429


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def test_bad_sign_ins_from_one_address_do_not_lock_the_accounts_out_elsewhere(app, client, two_provinces):
    for i in range(30):
        victim = "admin@tgg.example" if i % 2 else "council@tgg.example"
        client.post("/login", data={"email": victim, "password": f"doan-bua-{i}"}, **_from(ATTACKER))
    # The attacker's address is stopped, for every account...
    r = app.test_client().post("/login", data={"email": "viewer@tgg.example", "password": PASSWORD}, **_from(ATTACKER))
    assert r.status_code == 429
    # ...and the people it aimed at sign in from their own.
    for email, ip in (("admin@tgg.example", "198.51.100.7"), ("council@tgg.example", "198.51.100.8")):
        r = app.test_client().post("/login", data={"email": email, "password": PASSWORD}, **_from(ip))
        assert r.status_code == 302, (email, r.status_code)


def test_behind_the_proxy_the_limits_count_the_real_client(migrated, app, two_provinces, tmp_path):
    proxied = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated, "WTF_CSRF_ENABLED": False,
                          "UPLOAD_FOLDER": str(tmp_path / "u"), "PASSWORD_HASH_METHOD": app.config["PASSWORD_HASH_METHOD"],
                          "PROXY_COUNT": 1})
    proxied.test_client_class = IsolatedClient
    nginx = {"REMOTE_ADDR": "127.0.0.1"}
    for i in range(31):
        proxied.test_client().post("/login", data={"email": f"khach{i}@nowhere.example", "password": "sai-mat-khau"},
                                   headers={"X-Forwarded-For": f"10.9.9.9, {ATTACKER}"}, environ_base=nginx)
    ok = proxied.test_client().post("/login", data={"email": "admin@tgg.example", "password": PASSWORD},
                                    headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=nginx)
    assert ok.status_code == 302
    spoofed = proxied.test_client().post("/login", data={"email": "admin@tgg.example", "password": PASSWORD},
                                         headers={"X-Forwarded-For": f"198.51.100.99, {ATTACKER}"}, environ_base=nginx)
    assert spoofed.status_code == 429  # only the proxy's own entry is believed
    with proxied.app_context():
        ips = set(db.session.scalars(select(LoginAttempt.ip)))
        db.session.remove()
        db.engine.dispose()
    assert ips == {ATTACKER, "198.51.100.7"}


@pytest.mark.parametrize("path, kind", [("/login/link", "signin_link"), ("/password/forgot", "password_reset")])
def test_link_mails_are_throttled_per_address_and_per_ip(app, client, two_provinces, path, kind):
    answers = [client.post(path, data={"email": "stc@tgg.example"}, **_from(f"198.51.100.{i}")).status_code
               for i in range(40)]
    sent = db.session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == kind))
    assert sent == accounts.MAX_LINKS_PER_EMAIL
    assert answers.count(302) == accounts.MAX_LINKS_PER_EMAIL and answers.count(429) == 40 - sent
    # One address asking for many accounts' links is stopped too.
    many = [client.post(path, data={"email": f"ai-do-{i}@tgg.example"}, **_from(ATTACKER)).status_code
            for i in range(accounts.MAX_LINKS_PER_IP + 3)]
    assert many.count(302) == accounts.MAX_LINKS_PER_IP and many[-1] == 429
    # Someone else, from elsewhere, still gets theirs.
    assert client.post(path, data={"email": "syt@tgg.example"}, **_from("192.0.2.44")).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.kind == kind, OutboxMail.recipient == "syt@tgg.example")) == 1


def test_an_unknown_address_costs_a_password_hash_like_a_known_one(app, client, two_provinces, monkeypatch):
    checked: list[str] = []
    real = accounts.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    for email in ("admin@tgg.example", "khongco@nowhere.example"):
        client.post("/login", data={"email": email, "password": "sai-mat-khau-roi"})
    assert len(checked) == 2
    # The dummy hash is as costly as a real one: the same method and parameters.
    assert checked[0].split("$")[0] == checked[1].split("$")[0]


# -- tokens in no access log ----------------------------------------------------------------------------------------

def test_sign_in_and_reset_tokens_are_in_no_request_line_of_the_dev_server(app, two_provinces, caplog, monkeypatch):
    # (Alembic's fileConfig, run when the schema is built, disables the loggers that exist by then)
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    import http.cookiejar
    import urllib.parse
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(path, **data):
        return opener.open(base + path, urllib.parse.urlencode(data).encode())

    tokens = []
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            post("/login/link", email="stc@tgg.example")
            path, token = _mailed_link("signin_link", "stc@tgg.example")
            tokens.append(token)
            assert opener.open(base + path).status == 200
            assert post(path, token=token).geturl().endswith("/campaigns/TGG-2019/units/STC")
            post("/password/forgot", email="syt@tgg.example")
            path, token = _mailed_link("password_reset", "syt@tgg.example")
            tokens.append(token)
            assert opener.open(base + path).status == 200
            post(path, token=token, password="mat-khau-moi-2026", confirm="mat-khau-moi-2026")
    finally:
        server.shutdown()
        thread.join(10)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/login/link/use" in logged and "/password/reset" in logged  # the requests were logged...
    assert not any(t in logged for t in tokens)  # ...without their tokens
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LoginToken).where(LoginToken.used_at.is_(None))) == 0


def test_gunicorn_and_nginx_log_formats_leave_the_query_out():
    """The token is in the body, and the deploy/ log formats print the path only (ICS links carry a
    token in their query string)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    conf = (root / "deploy" / "gunicorn.conf.py").read_text()
    assert re.search(r"""access_log_format = '[^']*%\(U\)s""", conf) and "%(r)s" not in conf.split("access_log_format")[1]
    assert "$uri" in (root / "deploy" / "nginx.conf").read_text()


# -- the development key --------------------------------------------------------------------------------------------

class _Socket:
    def __init__(self, address):
        self.address = address

    def getsockname(self):
        return self.address


def test_the_development_key_answers_on_loopback_only(app, client):
    assert app.config["SECRET_KEY"] == "dev-only-not-secret"
    far = client.get("/login", environ_base={"werkzeug.socket": _Socket(("192.0.2.10", 5000))})
    assert far.status_code == 503 and "SECRET_KEY" in far.get_data(as_text=True)
    far = client.get("/login", environ_base={"gunicorn.socket": _Socket(("10.0.0.5", 8000, 0, 0))})
    assert far.status_code == 503
    assert client.get("/login", environ_base={"werkzeug.socket": _Socket(("127.0.0.1", 5000))}).status_code == 200
    assert client.get("/login", environ_base={"werkzeug.socket": _Socket(("::1", 5000, 0, 0))}).status_code == 200
    app.config["SECRET_KEY"] = "a-real-key-" + "x" * 32
    assert client.get("/login", environ_base={"werkzeug.socket": _Socket(("192.0.2.10", 5000))}).status_code == 200


def test_flask_serve_refuses_the_development_key_off_loopback(app, runner, monkeypatch):
    import cli.scheduler

    started = []
    monkeypatch.setattr(cli.scheduler, "run_simple", lambda *a, **k: started.append(a))
    monkeypatch.setattr(cli.scheduler, "start_in_background", lambda *a, **k: None)
    result = runner.invoke(args=["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "SECRET_KEY" in result.output and not started
    assert runner.invoke(args=["serve", "--host", "127.0.0.1"]).exit_code == 0 and len(started) == 1


def test_create_app_refuses_the_development_key_on_a_public_bind_and_makes_a_random_one(tmp_path, monkeypatch):
    uri = "sqlite:///" + str(tmp_path / "k.sqlite3")
    base = {"RAISE_CONFIG_ERRORS": True, "SQLALCHEMY_DATABASE_URI": uri, "UPLOAD_FOLDER": str(tmp_path)}
    monkeypatch.setenv("BIND", "0.0.0.0:8000")
    with pytest.raises(ConfigError, match="^SECRET_KEY: the development key"):
        create_app(dict(base, TESTING=True))
    with pytest.raises(ConfigError, match="^SECRET_KEY: the development key cannot be used when APP_ENV=production"):
        create_app(dict(base, APP_ENV="production", SECRET_KEY="dev-only-not-secret"))
    monkeypatch.delenv("BIND")
    # Outside the test suite, no key set: a random one, kept in the instance folder (make run).
    first = create_app(dict(base, SECRET_KEY=""))
    again = create_app(dict(base, SECRET_KEY=""))
    key_file = __import__("pathlib").Path(first.instance_path) / "secret_key"
    assert first.config["SECRET_KEY"] == again.config["SECRET_KEY"] == key_file.read_text().strip()
    assert first.config["SECRET_KEY"] != "dev-only-not-secret" and len(first.config["SECRET_KEY"]) >= 64
    assert key_file.stat().st_mode & 0o077 == 0

"""Signing in: passwords, single-use links by mail, resets, rate limits, CSRF, sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from notifications.models import OutboxMail
from tests.conftest import PASSWORD, login
from workflow.db import db
from workflow.models import AuditEvent, LoginToken, User


def _link(kind: str, recipient: str) -> str:
    db.session.expire_all()
    row = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == kind, OutboxMail.recipient == recipient)
                             .order_by(OutboxMail.id.desc())).first()
    assert row is not None, f"no {kind} mail to {recipient}"
    match = re.search(r"https?://\S+(/(?:login/link/use|password/reset))#([\w\-]+)", row.body_text)
    assert match, row.body_text
    return match.group(1), match.group(2)


def use_link(client, link):
    """What a browser does with a mailed link: GET the page (the token after "#" stays in the browser),
    then post the token with the form (static/app.js puts it there)."""
    path, token = link
    assert client.get(path).status_code == 200
    return client.post(path, data={"token": token})


def test_password_sign_in_and_out(client, two_provinces):
    page = client.get("/login")
    assert "Đăng nhập" in page.get_data(as_text=True)
    wrong = client.post("/login", data={"email": "admin@tgg.example", "password": "sai-mat-khau-roi"})
    assert wrong.status_code == 200 and "không đúng" in wrong.get_data(as_text=True)
    assert client.get("/campaigns").status_code == 302  # still anonymous
    response = login(client, "ADMIN@tgg.example ")  # addresses are case- and space-insensitive
    assert response.headers["Location"].endswith("/")
    assert client.get("/campaigns/TGG-2019").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/campaigns/TGG-2019").status_code == 302


def test_next_parameter_cannot_send_you_elsewhere(client, two_provinces):
    r = client.post("/login?next=//evil.example/x", data={"email": "admin@tgg.example", "password": PASSWORD})
    assert r.headers["Location"] in ("/", "http://localhost/")
    client.post("/logout")
    r = client.post("/login?next=/campaigns/TGG-2019", data={"email": "admin@tgg.example", "password": PASSWORD})
    assert r.headers["Location"].endswith("/campaigns/TGG-2019")


def test_sign_in_attempts_are_rate_limited(client, two_provinces):
    for _ in range(5):
        r = client.post("/login", data={"email": "stc@tgg.example", "password": "khong-dung-mat-khau"})
        assert r.status_code == 200
    blocked = client.post("/login", data={"email": "stc@tgg.example", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "quá nhiều lần" in blocked.get_data(as_text=True)
    # Fifteen minutes later the right password works again.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16), tick=False):
        assert login(client, "stc@tgg.example").status_code == 302


def test_single_use_sign_in_link(client, two_provinces):
    r = client.post("/login/link", data={"email": "stc@tgg.example"})
    assert r.status_code == 302
    link = _link("signin_link", "stc@tgg.example")
    first = use_link(client, link)
    assert first.status_code == 302 and first.headers["Location"].endswith("/")
    assert client.get("/").headers["Location"].endswith("/campaigns/TGG-2019/units/STC")
    client.post("/logout")
    again = use_link(client, link)  # single use
    assert again.headers["Location"].endswith("/login")
    assert client.get("/campaigns/TGG-2019/units/STC").status_code == 302
    token_hashes = db.session.scalars(select(LoginToken.token_hash)).all()
    assert all(link[1] not in h for h in token_hashes)  # only the hash is stored


def test_sign_in_link_expires(client, two_provinces):
    client.post("/login/link", data={"email": "stc@tgg.example"})
    link = _link("signin_link", "stc@tgg.example")
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=False):
        r = use_link(client, link)
        assert r.headers["Location"].endswith("/login")


def test_unknown_address_gets_the_same_answer_and_no_mail(client, two_provinces):
    before = db.session.scalar(select(func.count()).select_from(OutboxMail))
    r = client.post("/login/link", data={"email": "nobody@nowhere.example"}, follow_redirects=True)
    assert "Nếu địa chỉ này có tài khoản" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == before


def test_password_reset_by_mail(client, two_provinces):
    client.post("/password/forgot", data={"email": "syt@tgg.example"})
    path, token = _link("password_reset", "syt@tgg.example")
    assert client.get(path).status_code == 200
    short = client.post(path, data={"token": token, "password": "ngan", "confirm": "ngan"})
    assert short.status_code == 400 and "ít nhất" in short.get_data(as_text=True)
    r = client.post(path, data={"token": token, "password": "mat-khau-moi-2026", "confirm": "mat-khau-moi-2026"})
    assert r.status_code == 302
    client.post("/logout")
    assert login(client, "syt@tgg.example", "mat-khau-moi-2026").status_code == 302
    client.post("/logout")
    reused = client.post(path, data={"token": token, "password": "mat-khau-khac-2026", "confirm": "mat-khau-khac-2026"})
    assert reused.headers["Location"].endswith("/password/forgot")
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "user.password_set")) == 1


def test_forms_refuse_a_missing_csrf_token(app, client, two_provinces):
    app.config["WTF_CSRF_ENABLED"] = True
    r = client.post("/login", data={"email": "admin@tgg.example", "password": PASSWORD})
    assert r.status_code == 400
    assert "Phiên làm việc đã hết hạn" in r.get_data(as_text=True)


def test_sessions_expire_after_eight_hours(client, two_provinces):
    login(client, "admin@tgg.example")
    assert client.get("/campaigns").status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=9), tick=False):
        assert client.get("/campaigns").status_code == 302


def test_disabled_account_cannot_sign_in(client, two_provinces, runner):
    result = runner.invoke(args=["user", "disable", "viewer@tgg.example"])
    assert result.exit_code == 0
    r = client.post("/login", data={"email": "viewer@tgg.example", "password": PASSWORD})
    assert r.status_code == 200 and "không đúng" in r.get_data(as_text=True)


def test_user_cli(runner, two_provinces):
    r = runner.invoke(args=["user", "create", "moi@tgg.example", "--role", "focal_point", "--organizer", "TGG",
                            "--unit", "MYTHO-P1"])
    assert r.exit_code == 0, r.output
    assert "focal_point\tTGG\tMYTHO-P1" in r.output
    assert runner.invoke(args=["user", "create", "x@tgg.example", "--role", "focal_point",
                               "--organizer", "TGG"]).exit_code == 2  # a focal point needs a unit
    assert runner.invoke(args=["user", "create", "moi@tgg.example", "--role", "viewer",
                               "--organizer", "TGG"]).exit_code == 2  # exists
    r = runner.invoke(args=["user", "set-password", "moi@tgg.example", "--password", "ngan"])
    assert r.exit_code == 2 and "at least" in r.output
    r = runner.invoke(args=["user", "set-password", "moi@tgg.example", "--password", "du-dai-roi-2026"])
    assert r.exit_code == 0
    listing = runner.invoke(args=["user", "list", "--organizer", "TGG"]).output
    assert "moi@tgg.example" in listing and "btn.example" not in listing
    user = db.session.scalar(select(User).where(User.email == "moi@tgg.example"))
    assert user.password_hash and "du-dai-roi" not in user.password_hash


def test_security_headers(client):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    body = r.get_data(as_text=True)
    assert "<script>" not in body and " style=" not in body  # nothing inline for the CSP to refuse


def test_passwords_are_hashed_with_scrypt_n_32768_outside_the_test_suite(migrated, tmp_path):
    """The suite lowers scrypt's cost to sign in quickly (conftest); the app itself never does."""
    from app import create_app
    from tests.conftest import TEST_PASSWORD_HASH
    from workflow.accounts import hash_password

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated, "UPLOAD_FOLDER": str(tmp_path)})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        assert hash_password("mat-khau-thu-nghiem").startswith("scrypt:32768:8:1$")
    assert TEST_PASSWORD_HASH != app.config["PASSWORD_HASH_METHOD"]

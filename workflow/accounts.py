"""Accounts: users, passwords, single-use sign-in links, rate limits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import record
from .db import db
from .models import ROLES, LoginAttempt, LoginToken, Organizer, Unit, User

#: Failed attempts allowed per address, and per IP, within the window.
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30
WINDOW = timedelta(minutes=15)
LINK_TTL = {"magic": timedelta(hours=24), "reset": timedelta(hours=2)}
MIN_PASSWORD = 10


class AccountError(ValueError):
    def __init__(self, message_vi: str, message_en: str, field: str | None = None):
        super().__init__(message_en)
        self.message_vi, self.message_en, self.field = message_vi, message_en, field


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.",
                           f"The password needs at least {MIN_PASSWORD} characters.", "password")


def hash_password(password: str) -> str:
    """Werkzeug's scrypt (n=32768, r=8, p=1) unless the app's PASSWORD_HASH_METHOD says otherwise:
    only the test suite lowers it, to sign in hundreds of times in seconds (as Django's tests do)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def create_user(*, email: str, role: str, organizer: Organizer, unit: Unit | None = None, name: str = "",
                password: str = "", language: str = "vi", actor: str = "cli") -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(f"Vai trò không hợp lệ: {role}.", f"Unknown role {role!r}; one of {', '.join(ROLES)}.",
                           "role")
    if "@" not in email:
        raise AccountError("Địa chỉ thư điện tử không hợp lệ.", "Not an e-mail address.", "email")
    if role in ("focal_point", "district_coordinator") and unit is None:
        raise AccountError("Vai trò này cần gắn với một đơn vị.", "This role needs a unit.", "unit")
    if unit is not None and unit.organizer_id != organizer.id:
        raise AccountError("Đơn vị không thuộc cơ quan tổ chức này.", "The unit belongs to another organizer.", "unit")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("Địa chỉ thư điện tử đã có tài khoản.", "An account with this e-mail exists.", "email")
    user = User(email=email, role=role, organizer_id=organizer.id, unit_id=unit.id if unit else None, name=name,
                language=language if language in ("vi", "en") else "vi")
    if password:
        check_password_strength(password)
        user.password_hash = hash_password(password)
    db.session.add(user)
    db.session.flush()
    record(actor=actor, action="user.created", organizer_id=organizer.id, unit_id=user.unit_id,
           to_value=f"{email} ({role})")
    return user


def set_password(user: User, password: str, *, actor: str) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    record(actor=actor, action="user.password_set", organizer_id=user.organizer_id, to_value=user.email)


def too_many_failures(email: str, ip: str, now: datetime) -> bool:
    since = now - WINDOW
    by_email = db.session.scalar(select(func.count()).where(
        LoginAttempt.email == email.strip().lower(), LoginAttempt.at >= since, LoginAttempt.success.is_(False)))
    by_ip = db.session.scalar(select(func.count()).where(
        LoginAttempt.ip == ip, LoginAttempt.at >= since, LoginAttempt.success.is_(False)))
    return (by_email or 0) >= MAX_FAILURES_PER_EMAIL or (by_ip or 0) >= MAX_FAILURES_PER_IP


def authenticate(email: str, password: str, *, ip: str, now: datetime) -> User | None:
    """The user if the password is right and the address is not locked out; records the attempt."""
    email = email.strip().lower()
    if too_many_failures(email, ip, now):
        raise AccountError("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút hoặc nhận liên kết đăng nhập qua thư.",
                           "Too many failed sign-ins. Try again in 15 minutes, or get a sign-in link by mail.")
    user = db.session.scalar(select(User).where(User.email == email))
    ok = bool(user and user.active and user.password_hash and check_password_hash(user.password_hash, password))
    db.session.add(LoginAttempt(email=email, ip=ip, at=now, success=ok))
    if ok and user is not None:
        user.last_login_at = now
        return user
    return None


def issue_link(user: User, purpose: str, now: datetime) -> str:
    """A single-use token for a sign-in (magic) or password-reset link; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    db.session.add(LoginToken(user_id=user.id, purpose=purpose, token_hash=_hash(token),
                              expires_at=now + LINK_TTL[purpose]))
    db.session.flush()
    return token


def consume_link(token: str, purpose: str, now: datetime) -> User | None:
    """The user of a valid, unused, unexpired link, marking it used."""
    row = db.session.scalar(select(LoginToken).where(LoginToken.token_hash == _hash(token),
                                                     LoginToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.used_at = now
    user.last_login_at = now
    return user

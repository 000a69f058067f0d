"""Accounts: users, passwords, single-use sign-in links, rate limits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from . import ratelimits
from .addresses import is_email
from .audit import record
from .db import db
from .models import ROLES, LoginAttempt, LoginToken, Organizer, Unit, User

#: Failed attempts allowed per address from one IP, and per IP, within the window.
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
    if not is_email(email):
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
    end_sessions(user)  # a new password signs every session out, the one that set it included
    record(actor=actor, action="user.password_set", organizer_id=user.organizer_id, to_value=user.email)


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session signed in before now is refused at its next request
    (the sessions carry the generation they were signed in under; web/common.py checks it)."""
    user.session_generation = (user.session_generation or 0) + 1


def _pair_key(email: str, ip: str) -> str:
    return f"pw:{email}|{ip}"


def _refuse_too_many() -> AccountError:
    return AccountError("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút hoặc nhận liên kết đăng nhập qua thư.",
                        "Too many failed sign-ins. Try again in 15 minutes, or get a sign-in link by mail.")


#: One hash of a password nobody has, per hashing method: checked when the address has no account
#: (or no password), so that a sign-in takes the same time whether the address exists or not.
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


def authenticate(email: str, password: str, *, ip: str, now: datetime) -> User | None:
    """The user if the password is right and the attempt is within the limits; records the attempt.

    Limits (workflow/ratelimits.py, atomic across workers): MAX_FAILURES_PER_EMAIL failures for one
    address *from one IP*, and MAX_FAILURES_PER_IP from one IP, within WINDOW.  An address is not
    locked for everyone: failures from one IP never stop its owner signing in from another.  A hit is
    counted before the password is checked (so parallel guesses cannot all slip under the limit) and
    taken back when the password is right."""
    email = email.strip().lower()
    pair, by_ip = _pair_key(email, ip), f"ip:{ip}"
    pair_hits = ratelimits.hit(pair, window=WINDOW, now=now)
    ip_hits = ratelimits.hit(by_ip, window=WINDOW, now=now)
    if pair_hits > MAX_FAILURES_PER_EMAIL or ip_hits > MAX_FAILURES_PER_IP:
        db.session.add(LoginAttempt(email=email, ip=ip, at=now, success=False))
        raise _refuse_too_many()
    user = db.session.scalar(select(User).where(User.email == email))
    usable = bool(user and user.active and user.password_hash)
    # The same work whether or not the address has an account (no timing oracle).
    ok = check_password_hash(user.password_hash if usable and user else _dummy_hash(), password) and usable
    db.session.add(LoginAttempt(email=email, ip=ip, at=now, success=ok))
    if ok and user is not None:
        ratelimits.clear(pair)
        ratelimits.undo(by_ip)
        user.last_login_at = now
        return user
    return None


#: Mails with a sign-in or reset link: per address, and per IP, within WINDOW.
MAX_LINKS_PER_EMAIL = 3
MAX_LINKS_PER_IP = 10


def throttle_link_mail(email: str, ip: str, now: datetime) -> None:
    """Count one request for a link mail; AccountError past the limits.  Counted whether or not the
    address has an account, so the answer tells nothing about it."""
    email = email.strip().lower()
    by_email = ratelimits.hit(f"mail:{email}", window=WINDOW, now=now)
    by_ip = ratelimits.hit(f"mailip:{ip}", window=WINDOW, now=now)
    if by_email > MAX_LINKS_PER_EMAIL or by_ip > MAX_LINKS_PER_IP:
        raise AccountError("Đã gửi quá nhiều liên kết. Vui lòng kiểm tra hộp thư, hoặc thử lại sau 15 phút.",
                           "Too many links requested. Check your mailbox, or try again in 15 minutes.")


def issue_link(user: User, purpose: str, now: datetime) -> str:
    """A single-use token for a sign-in (magic) or password-reset link; only its hash is kept.
    The user's older unused links of the same purpose stop working."""
    db.session.execute(update(LoginToken).where(LoginToken.user_id == user.id, LoginToken.purpose == purpose,
                                                LoginToken.used_at.is_(None)).values(used_at=now)
                       .execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    db.session.add(LoginToken(user_id=user.id, purpose=purpose, token_hash=_hash(token),
                              expires_at=now + LINK_TTL[purpose]))
    db.session.flush()
    return token


def consume_link(token: str, purpose: str, now: datetime) -> User | None:
    """The user of a valid, unused, unexpired link, marking it used.

    Spent by one conditional UPDATE (``… WHERE used_at IS NULL``): of parallel uses, exactly one
    changes the row; the others (on PostgreSQL, waiting for its lock) change nothing and get None.
    A use also spends the user's other unused links of the purpose (a reset: of every purpose)."""
    row = db.session.execute(select(LoginToken.id, LoginToken.user_id).where(
        LoginToken.token_hash == _hash(token or ""), LoginToken.purpose == purpose,
        LoginToken.used_at.is_(None), LoginToken.expires_at > now)).first()
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    spent = db.session.execute(update(LoginToken).where(LoginToken.id == row.id, LoginToken.used_at.is_(None),
                                                        LoginToken.expires_at > now).values(used_at=now)
                               .execution_options(synchronize_session=False))
    if getattr(spent, "rowcount", 0) != 1:  # a CursorResult: the rows this UPDATE changed
        return None
    others = [LoginToken.user_id == user.id, LoginToken.used_at.is_(None)]
    if purpose != "reset":
        others.append(LoginToken.purpose == purpose)
    db.session.execute(update(LoginToken).where(*others).values(used_at=now)
                       .execution_options(synchronize_session=False))
    user.last_login_at = now
    return user

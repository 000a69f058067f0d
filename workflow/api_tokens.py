"""API tokens: an organizer's service account, or one unit's; stored hashed, shown once, revocable.

A token reads ``hc_<prefix>_<secret>``: ``prefix`` (8 hex digits) is stored
in clear to tell tokens apart in lists; only the SHA-256 of the whole token is
stored, so a token is shown once, when it is created, and never again.  Every
request looks the token up afresh (no cache): a revoked token is refused at
once.

Scopes: ``read`` (campaigns, timelines, statuses, working days), ``record``
(record a dossier received through e-office or e-mail), ``manage`` (mark a
step done, move a milestone, return a dossier, reinstate a unit).  A unit's
token sees and writes only its own unit, and can never ``manage``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from .audit import record
from .db import db, utcnow
from .models import ApiToken, Organizer, Unit

#: Scope -> (Vietnamese, English) description.
SCOPES: dict[str, tuple[str, str]] = {
    "read": ("Đọc đợt đánh giá, mốc thời gian, tình trạng đơn vị, ngày làm việc",
             "Read campaigns, timelines, unit statuses, working days"),
    "record": ("Ghi nhận hồ sơ nhận qua phần mềm quản lý văn bản hoặc thư điện tử",
               "Record dossiers received through e-office or e-mail"),
    "manage": ("Đánh dấu hoàn thành bước, dời mốc, trả lại hồ sơ, khôi phục đơn vị",
               "Mark steps done, move milestones, return dossiers, reinstate units"),
}
#: What a unit's token may hold: never ``manage``.
UNIT_SCOPES = ("read", "record")

TOKEN_RE = re.compile(r"^hc_([0-9a-f]{8})_([A-Za-z0-9_-]{32,128})$")
#: ``last_used_at`` is written at most this often per token.
TOUCH_EVERY = timedelta(seconds=60)


class TokenError(ValueError):
    """A token that cannot be created or revoked; the message is for people."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the row, and the secret shown once."""

    row: ApiToken
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_of(token: ApiToken) -> str:
    """The name written in the audit trail for what a token does."""
    return f"api:{token.name}"


def create_token(*, organizer: Organizer, name: str, scopes: list[str] | tuple[str, ...], unit: Unit | None = None,
                 actor: str = "cli") -> IssuedToken:
    """Create a token; the returned secret is not stored anywhere."""
    name = (name or "").strip()
    if not name:
        raise TokenError("a name is required, e.g. 'VNPT iOffice'")
    if len(name) > 200:
        raise TokenError("the name is longer than 200 characters")
    wanted = list(dict.fromkeys(s.strip() for s in scopes if s and s.strip()))
    if not wanted:
        raise TokenError(f"at least one scope is required: {', '.join(SCOPES)}")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope(s) {', '.join(unknown)}: use {', '.join(SCOPES)}")
    if unit is not None:
        if unit.organizer_id != organizer.id:
            raise TokenError(f"unit {unit.code!r} does not belong to organizer {organizer.code!r}")
        refused = [s for s in wanted if s not in UNIT_SCOPES]
        if refused:
            raise TokenError(f"a unit's token cannot have scope(s) {', '.join(refused)} "
                             f"(only {', '.join(UNIT_SCOPES)})")
    prefix = secrets.token_hex(4)
    token = f"hc_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(name=name, organizer_id=organizer.id, unit_id=unit.id if unit else None,
                   token_hash=hash_token(token), prefix=prefix, scopes=[s for s in SCOPES if s in wanted],
                   created_by=actor, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    record(actor=actor, action="api_token.created", organizer_id=organizer.id, unit_id=row.unit_id,
           to_value=f"#{row.id} {prefix} {name!r} scopes={','.join(row.scopes)}"
                    + (f" unit={unit.code}" if unit else ""))
    return IssuedToken(row, token)


def find_token(ref: str) -> ApiToken:
    """A token by its id or its prefix (as ``flask token list`` shows them)."""
    ref = (ref or "").strip().removeprefix("#")
    prefix = ref.removeprefix("hc_")
    # A prefix is 8 hex digits and may be all decimal digits: try it as a prefix first.
    rows = db.session.scalars(select(ApiToken).where(ApiToken.prefix == prefix)).all() \
        if re.fullmatch(r"[0-9a-f]{8}", prefix) else []
    if not rows and ref.isdigit():
        row = db.session.get(ApiToken, int(ref))
        if row is None:
            raise TokenError(f"no token #{ref}")
        return row
    if not rows:
        raise TokenError(f"no token with id or prefix {ref!r}")
    if len(rows) > 1:
        raise TokenError(f"prefix {ref!r} is shared by tokens {', '.join(f'#{r.id}' for r in rows)}: use the id")
    return rows[0]


def revoke_token(row: ApiToken, *, actor: str = "cli", reason: str = "", now: datetime | None = None) -> ApiToken:
    """Revoke a token: refused from the next request on."""
    if row.revoked_at is not None:
        raise TokenError(f"token #{row.id} ({row.prefix}) was already revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = now or utcnow()
    record(actor=actor, action="api_token.revoked", organizer_id=row.organizer_id, unit_id=row.unit_id,
           from_value=f"#{row.id} {row.prefix} {row.name!r}", to_value="revoked", reason=reason)
    db.session.flush()
    return row


def authenticate(token: str) -> ApiToken | None:
    """The live token for a presented secret, or None (unknown, malformed or revoked)."""
    token = (token or "").strip()
    if not TOKEN_RE.match(token):
        return None
    digest = hash_token(token)
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
        return None
    return row


def touch(row: ApiToken, now: datetime) -> bool:
    """Note when a token was last used, at most once a minute; True when it changed."""
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
        return True
    return False

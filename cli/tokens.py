"""``flask token``: API tokens for e-office systems and scripts (docs/api.md).

``create`` prints the token alone on standard output (so ``TOKEN=$(flask token
create …)`` works) and the rest on standard error: the token is shown once
and is never stored, only its SHA-256.  Malformed input exits with status 2.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from workflow.api_tokens import SCOPES, TokenError, create_token, find_token, revoke_token
from workflow.db import db
from workflow.models import ApiToken, Organizer, Unit

token_cli = AppGroup("token", help="API tokens for e-office systems and scripts (docs/api.md).")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _organizer(code: str) -> Organizer:
    org = db.session.scalar(select(Organizer).where(Organizer.code == code))
    if org is None:
        _fail(f"no organizer with code {code!r}")
    return org


@token_cli.command("create")
@click.option("--organizer", "organizer_code", required=True, help="The organizer (its code, e.g. TGG).")
@click.option("--unit", "unit_code", help="Make it a unit's token: it sees and writes only that unit.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(list(SCOPES)),
              help="read, record or manage (repeatable; a unit's token cannot manage).")
@click.option("--name", required=True, help="What uses it, e.g. 'VNPT iOffice'; written in the audit trail.")
@click.option("--actor", default="cli", show_default=True, help="Who creates it (for the audit trail).")
def create_command(organizer_code: str, unit_code: str | None, scopes: tuple[str, ...], name: str,
                   actor: str) -> None:
    """Create a token and print it once."""
    org = _organizer(organizer_code)
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.organizer_id == org.id, Unit.code == unit_code))
        if unit is None:
            _fail(f"no unit {unit_code!r} at organizer {organizer_code}")
    try:
        issued = create_token(organizer=org, unit=unit, scopes=list(scopes), name=name, actor=actor)
    except TokenError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    row = issued.row
    click.echo(issued.token)
    click.echo(f"token #{row.id} ({row.prefix}) for {org.code}{'/' + unit.code if unit else ''}, "
               f"scopes {','.join(row.scopes)}, name {row.name!r}.", err=True)
    click.echo("Shown once: store it now. Only its SHA-256 is kept; revoke with "
               f"`flask token revoke {row.id}`.", err=True)


@token_cli.command("list")
@click.option("--organizer", "organizer_code", help="Only this organizer's tokens.")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
def list_command(organizer_code: str | None, show_all: bool) -> None:
    """List tokens: id, prefix, organizer, unit, scopes, name, created, last used, revoked."""
    query = select(ApiToken).order_by(ApiToken.id)
    if organizer_code:
        query = query.where(ApiToken.organizer_id == _organizer(organizer_code).id)
    if not show_all:
        query = query.where(ApiToken.revoked_at.is_(None))
    for t in db.session.scalars(query):
        click.echo("\t".join([
            str(t.id), t.prefix, t.organizer.code, t.unit.code if t.unit else "-", ",".join(t.scopes), t.name,
            t.created_at.isoformat(timespec="seconds"),
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-",
            f"revoked {t.revoked_at.isoformat(timespec='seconds')}" if t.revoked_at else "active",
        ]))


@token_cli.command("revoke")
@click.argument("ref", metavar="ID|PREFIX")
@click.option("--reason", default="", help="Why; stays on record.")
@click.option("--actor", default="cli", show_default=True)
def revoke_command(ref: str, reason: str, actor: str) -> None:
    """Revoke a token: refused from the next request on."""
    try:
        row = revoke_token(find_token(ref), actor=actor, reason=reason)
    except TokenError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(f"revoked #{row.id}\t{row.prefix}\t{row.name}")

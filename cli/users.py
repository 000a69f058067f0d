"""``flask user``: accounts from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from workflow.accounts import AccountError, create_user, set_password
from workflow.db import db
from workflow.models import ROLES, Organizer, Unit, User

user_cli = AppGroup("user", help="Accounts.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--organizer", "organizer_code", required=True)
@click.option("--unit", "unit_code", help="The unit (focal point) or district (district coordinator).")
@click.option("--name", default="")
@click.option("--language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--password", help="Omit for a person who signs in with links sent by mail.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email, role, organizer_code, unit_code, name, language, password, password_stdin):
    """Create an account."""
    organizer = db.session.scalar(select(Organizer).where(Organizer.code == organizer_code))
    if organizer is None:
        _fail(f"no organizer with code {organizer_code!r}")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.organizer_id == organizer.id, Unit.code == unit_code))
        if unit is None:
            _fail(f"no unit {unit_code!r} at {organizer_code}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_user(email=email, role=role, organizer=organizer, unit=unit, name=name,
                           password=password or "", language=language, actor="cli")
    except AccountError as exc:
        _fail(exc.message_en)
    db.session.commit()
    click.echo(f"{user.id}\t{user.email}\t{user.role}\t{organizer.code}\t{unit.code if unit else '-'}")


@user_cli.command("list")
@click.option("--organizer", "organizer_code")
def list_command(organizer_code):
    """List accounts: id, e-mail, role, organizer, unit, active."""
    query = select(User).order_by(User.id)
    if organizer_code:
        query = query.join(Organizer).where(Organizer.code == organizer_code)
    for u in db.session.scalars(query):
        click.echo(f"{u.id}\t{u.email}\t{u.role}\t{u.organizer.code}\t{u.unit.code if u.unit else '-'}\t"
                   f"{'active' if u.active else 'disabled'}")


@user_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True)
@click.option("--password")
def set_password_command(email, password_stdin, password):
    """Set an account's password."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no account {email!r}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        _fail("give --password or --password-stdin")
    try:
        set_password(user, password, actor="cli")
    except AccountError as exc:
        _fail(exc.message_en)
    db.session.commit()
    click.echo(f"password set for {user.email}")


@user_cli.command("disable")
@click.argument("email")
def disable_command(email):
    """Disable an account (it can no longer sign in)."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no account {email!r}")
    user.active = False
    db.session.commit()
    click.echo(f"disabled {user.email}")

"""``flask workdays``: the working-day calendar from the command line.

Output formats are contracts (README, "CLI"): the first line of ``add`` is the
ISO date of the period's last day; ``between`` prints a number; ``is-working``
prints ``yes`` or ``no`` then the reason; ``holidays`` prints ``ISO-date<TAB>name``.
Malformed input prints one line and exits with status 2.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from workflow import operations as ops
from workflow.calendars import OverrideError, calendar_for, overrides_for
from workflow.db import db, utcnow
from workflow.models import CalendarOverride, Organizer
from workflow.periods import DateOutOfRange, calendar_days_from, check_date, parse_iso_instant, working_days_from
from workflow.storage import DocumentRefused, store_document

workdays = AppGroup("workdays", help="Working days of Vietnamese state agencies.")


def fail(message: str) -> None:
    """One line on stderr, exit status 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def parse_date(value: str, what: str = "DATE") -> date:
    """A date as YYYY-MM-DD inside the one accepted range (periods.FIRST_DATE..LAST_DATE)."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{what} {value!r} is not a valid date; use YYYY-MM-DD, e.g. 2019-10-25")
        raise AssertionError from None  # unreachable
    try:
        return check_date(day, what)
    except DateOutOfRange as exc:
        fail(exc.message_en)
    raise AssertionError  # unreachable


def parse_instant(value: str | None, what: str = "--now") -> datetime:
    """An ISO instant (``24:00`` is the end of the day); without an offset it is read as local time (TIMEZONE)."""
    if value is None:
        return utcnow()
    try:
        instant = parse_iso_instant(value, current_app.config["TZ"])
    except ValueError:
        fail(f"{what} {value!r} is not an ISO instant, e.g. 2019-10-25T23:59:59+07:00 or 2019-10-25T24:00")
        raise AssertionError from None  # unreachable
    return instant.astimezone(UTC)


def parse_count(value: str) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        fail(f"N {value!r} is not a whole number")
    if n < 0:
        fail(f"N must not be negative (got {n})")
    return n


def organizer_by_code(code: str | None) -> Organizer | None:
    if not code:
        return None
    org = db.session.scalar(db.select(Organizer).where(Organizer.code == code))
    if org is None:
        fail(f"no organizer with code {code!r}")
    return org


@workdays.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("day", metavar="DATE")
@click.argument("n", metavar="N")
@click.option("--calendar-days", is_flag=True, help="Count calendar days (Civil Code roll-forward), not working days.")
@click.option("--explain", is_flag=True, help="Explain each day counted or skipped.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--organizer", "organizer_code", help="Apply this organizer's local overrides.")
def add_command(day: str, n: str, calendar_days: bool, explain: bool, lang: str, organizer_code: str | None) -> None:
    """Print the last day of a period of N (working) days counted from DATE."""
    start, count = parse_date(day), parse_count(n)
    org = organizer_by_code(organizer_code)
    cal = calendar_for(org.id if org else None)
    period = (calendar_days_from if calendar_days else working_days_from)(start, count, cal, explain=explain)
    click.echo(period.last_day.isoformat())
    if explain:
        for line in period.explain(lang):
            click.echo(line)


@workdays.command("between")
@click.argument("start", metavar="START")
@click.argument("end", metavar="END")
@click.option("--organizer", "organizer_code", help="Apply this organizer's local overrides.")
def between_command(start: str, end: str, organizer_code: str | None) -> None:
    """Print the number of working days after START up to and including END."""
    first, last = parse_date(start, "START"), parse_date(end, "END")
    if last < first:
        fail(f"END {end} is before START {start}")
    org = organizer_by_code(organizer_code)
    click.echo(calendar_for(org.id if org else None).get_working_days_delta(first, last))


@workdays.command("is-working")
@click.argument("day", metavar="DATE")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--organizer", "organizer_code", help="Apply this organizer's local overrides.")
def is_working_command(day: str, lang: str, organizer_code: str | None) -> None:
    """Print yes or no, then the reason."""
    d = parse_date(day)
    org = organizer_by_code(organizer_code)
    status = calendar_for(org.id if org else None).day_status(d)
    click.echo("yes" if status.working else "no")
    click.echo(status.describe(lang))


@workdays.command("holidays")
@click.argument("year", metavar="YEAR")
@click.option("--organizer", "organizer_code", help="Include this organizer's local overrides.")
def holidays_command(year: str, organizer_code: str | None) -> None:
    """Print each day off and each make-up working day of YEAR: ISO date, tab, name."""
    try:
        y = int(year)
        if not 1900 <= y <= 2200:
            raise ValueError
    except ValueError:
        fail(f"YEAR {year!r} is not a year between 1900 and 2200")
    org = organizer_by_code(organizer_code)
    cal = calendar_for(org.id if org else None)
    days = dict(cal.holidays(y))
    days.update(dict(cal.working_weekend_days(y)))
    for d in sorted(days):
        status = cal.day_status(d)
        name = status.name_vi
        if status.reason == "weekend":
            name = days[d]
        if status.document and status.reason.startswith("local_"):
            name = f"{name} ({status.document})"  # a province's own decision: say which
        elif status.document:
            name = f"{name} (theo {status.document})"  # the legal source (workflow/data/holiday_sources.yaml)
        if status.unconfirmed:
            name = f"{name} [CHƯA XÁC NHẬN / UNCONFIRMED]"
        click.echo(f"{d.isoformat()}\t{name}")


override = AppGroup("override", help="Local days off and extra working days.")
workdays.add_command(override)


@override.command("add")
@click.argument("day", metavar="DATE")
@click.option("--kind", type=click.Choice(["day_off", "working_day"]), default="day_off", show_default=True)
@click.option("--reason", required=True, help="Why, e.g. 'Nghỉ tránh bão số 9'.")
@click.option("--document", default="", help="The decision, e.g. 'Công văn 4567/UBND-KT ngày 25/10/2024'.")
@click.option("--organizer", "organizer_code", help="The organizer it applies to; everyone when omitted.")
@click.option("--actor", default="cli", show_default=True, help="Who records it (for the audit trail).")
@click.option("--campaign-reason", "campaign_reasons", multiple=True, metavar="CODE=REASON",
              help="The written reason for a campaign whose passed deadline or grace end the change moves (repeatable).")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
def override_add(day: str, kind: str, reason: str, document: str, organizer_code: str | None, actor: str,
                 campaign_reasons: tuple[str, ...], now_text: str | None) -> None:
    """Add a local day off or an extra working day.

    A change that would move a deadline or grace end that has already passed is refused, listing the
    campaigns and units it affects, unless --campaign-reason CODE=REASON is given for each of them."""
    d = parse_date(day)
    org = organizer_by_code(organizer_code)
    now = parse_instant(now_text)
    try:
        row = ops.add_calendar_override(day=d, kind=kind, reason=reason, document=document, organizer=org,
                                        actor=actor, now=now, campaign_reasons=_campaign_reasons(campaign_reasons))
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        _print_impacts(exc)
        fail(exc.message_en + " Give --campaign-reason CODE=REASON for each.")
    except (OverrideError, ops.OperationError) as exc:
        db.session.rollback()
        fail(getattr(exc, "message_en", str(exc)))
    db.session.commit()
    click.echo(f"{row.id}\t{row.day.isoformat()}\t{row.kind}\t{org.code if org else '*'}\t{row.reason}\t{row.document}")


def _campaign_reasons(items: tuple[str, ...]) -> dict[str, str]:
    reasons = {}
    for item in items:
        code, sep, text = item.partition("=")
        if not sep or not code.strip() or not text.strip():
            fail(f"--campaign-reason {item!r}: use CODE=REASON")
        reasons[code.strip()] = text.strip()
    return reasons


def _print_impacts(exc) -> None:
    """The campaigns and units a refused calendar change affects: one line per move, one per campaign's units."""
    for impact in exc.impacts:
        code = impact.campaign.code
        for what, old, new in impact.moves:
            click.echo(f"affected\t{code}\t{what}\t{old.isoformat()}\t{new.isoformat()}", err=True)
        if impact.units:
            click.echo(f"units\t{code}\t{' '.join(impact.units)}", err=True)


@override.command("list")
@click.option("--organizer", "organizer_code", help="Only those that apply to this organizer.")
def override_list(organizer_code: str | None) -> None:
    """List overrides: id, date, kind, organizer (* for everyone), reason, document."""
    if organizer_code:
        org = organizer_by_code(organizer_code)
        rows = overrides_for(org.id if org else None)
    else:
        rows = db.session.scalars(db.select(CalendarOverride).order_by(CalendarOverride.day)).all()
    for row in rows:
        scope = row.organizer.code if row.organizer else "*"
        click.echo(f"{row.id}\t{row.day.isoformat()}\t{row.kind}\t{scope}\t{row.reason}\t{row.document}")


@override.command("remove")
@click.argument("override_id", metavar="ID")
@click.option("--reason", default="", help="Why it is removed.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--campaign-reason", "campaign_reasons", multiple=True, metavar="CODE=REASON",
              help="As for `override add`: the reason for each campaign whose passed dates the removal moves.")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
def override_remove(override_id: str, reason: str, actor: str, campaign_reasons: tuple[str, ...],
                    now_text: str | None) -> None:
    """Remove an override by its id (refused like `override add` when it moves passed dates without reasons)."""
    try:
        oid = int(override_id)
    except ValueError:
        fail(f"ID {override_id!r} is not a number")
    try:
        row = ops.remove_calendar_override(oid, actor=actor, reason=reason, now=parse_instant(now_text),
                                           campaign_reasons=_campaign_reasons(campaign_reasons))
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        _print_impacts(exc)
        fail(exc.message_en + " Give --campaign-reason CODE=REASON for each.")
    except (OverrideError, ops.OperationError) as exc:
        db.session.rollback()
        fail(getattr(exc, "message_en", str(exc)))
    db.session.commit()
    click.echo(f"removed {row.id}\t{row.day.isoformat()}\t{row.kind}")


def _decide_holiday(decision: str, day: str, scope: str, doc_number: str, doc_date: str, doc_issuer: str,
                    file_path: str | None, actor: str, campaign_reasons: tuple[str, ...], now_text: str | None) -> None:
    d = parse_date(day)
    issued = parse_date(doc_date, "--doc-date")
    org = None if scope.strip().lower() in ("all", "*") else organizer_by_code(scope.strip())
    now = parse_instant(now_text)
    stored = None
    if file_path:
        path = Path(file_path)
        if not path.is_file():
            fail(f"--file {file_path!r} is not a readable file")
        try:
            stored = store_document(current_app.config["UPLOAD_FOLDER"], path.name, path.read_bytes())
        except DocumentRefused as exc:
            fail(exc.message_en)
    try:
        row = ops.decide_unconfirmed_holiday(day=d, decision=decision, doc_number=doc_number, doc_date=issued,
                                             doc_issuer=doc_issuer, organizer=org, actor=actor, now=now,
                                             stored=stored, campaign_reasons=_campaign_reasons(campaign_reasons))
    except ops.CalendarChangeNeedsReasons as exc:
        db.session.rollback()
        _print_impacts(exc)
        fail(exc.message_en + " Give --campaign-reason CODE=REASON for each.")
    except ops.OperationError as exc:
        db.session.rollback()
        fail(exc.message_en)
    db.session.commit()
    click.echo(f"{row.id}\t{row.day.isoformat()}\t{row.decision}\t{org.code if org else '*'}\t{row.name}\t"
               f"{row.doc_number}\t{row.doc_date.isoformat()}\t{row.doc_issuer}")


def _decision_options(command):
    for option in reversed([
        click.argument("day", metavar="DATE"),
        click.option("--scope", required=True, metavar="all|ORGANIZER",
                     help="'all' decides for every organizer (the operator's decision); an organizer's code for "
                          "that province only."),
        click.option("--doc-number", required=True, help="The deciding document's number, e.g. '45/2026/QH15'."),
        click.option("--doc-date", required=True, help="Its date, YYYY-MM-DD."),
        click.option("--doc-issuer", required=True, help="Who issued it, e.g. 'Quốc hội'."),
        click.option("--file", "file_path", help="The document's file (PDF, DOC(X), XLS(X)), kept with the decision."),
        click.option("--actor", default="cli", show_default=True, help="Who decides (for the audit trail)."),
        click.option("--campaign-reason", "campaign_reasons", multiple=True, metavar="CODE=REASON",
                     help="As for `override add`: the reason for each campaign whose passed dates the decision "
                          "moves (a rejection only)."),
        click.option("--now", "now_text", help="As of this instant (default: the clock)."),
    ]):
        command = option(command)
    return command


@workdays.command("confirm-holiday")
@_decision_options
def confirm_holiday(day, scope, doc_number, doc_date, doc_issuer, file_path, actor, campaign_reasons,
                    now_text) -> None:
    """Confirm an unconfirmed day off (it stays a day off, citing the document); once per scope.

    Prints: id, date, confirmed, organizer (* for everyone), name, document number, date, issuer."""
    _decide_holiday("confirmed", day, scope, doc_number, doc_date, doc_issuer, file_path, actor, campaign_reasons,
                    now_text)


@workdays.command("reject-holiday")
@_decision_options
def reject_holiday(day, scope, doc_number, doc_date, doc_issuer, file_path, actor, campaign_reasons,
                   now_text) -> None:
    """Reject an unconfirmed day off: a working day in that scope.  Refused, listing the campaigns and
    units, when that moves a passed deadline or grace end without --campaign-reason for each."""
    _decide_holiday("rejected", day, scope, doc_number, doc_date, doc_issuer, file_path, actor, campaign_reasons,
                    now_text)

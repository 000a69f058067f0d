"""``flask criteria`` and ``flask sheet``: the evaluation from the command line (issue 12).

Thin: parse, call one operation (``workflow.evaluation``, ``campaign_files.replace_criteria``),
commit, report.  Malformed input exits with status 2, a refused operation with 1.

    flask criteria export CAMPAIGN -o set.xlsx
    flask criteria import CAMPAIGN set.xlsx|criteria.yaml [--dry-run]
    flask sheet show CAMPAIGN UNIT [--json]
    flask sheet fill CAMPAIGN UNIT filled.xlsx [--submit]
    flask sheet submit CAMPAIGN UNIT
    flask sheet verify CAMPAIGN UNIT CODE [--value k=v …] [--points P] [--not-found] --note … [--stage …]
    flask sheet send CAMPAIGN (UNIT … | --all) [--days N] [--note …]
    flask sheet respond CAMPAIGN UNIT CODE=confirmed|disputed[:reason] …
    flask sheet settle CAMPAIGN UNIT --reason …
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from cli.campaign import get_campaign, get_unit, parse_instant, refused
from cli.workdays import fail
from workflow import criteria_xlsx
from workflow import evaluation as ev
from workflow.campaign_files import CampaignFileError, parse_criteria, replace_criteria, set_nodes
from workflow.criteria import sets_of
from workflow.db import db
from workflow.models import Participation, Unit
from workflow.operations import OperationError
from workflow.unit_files import UnitFileError

criteria_cli = AppGroup("criteria", help="A campaign's criteria sets: XLSX template export and import.")
sheet_cli = AppGroup("sheet", help="Units' criteria sheets: show, fill, submit, verify, confirmation round.")


@criteria_cli.command("export")
@click.argument("campaign_code")
@click.option("-o", "--output", required=True, help="The XLSX file to write.")
def criteria_export(campaign_code: str, output: str) -> None:
    """Write the campaign's criteria sets as the XLSX template (one worksheet per set)."""
    campaign = get_campaign(campaign_code)
    sets = sets_of(campaign.id)
    if not sets:
        fail(f"campaign {campaign_code} has no criteria set")
    Path(output).write_bytes(criteria_xlsx.export_sets([(s.code, s.title, s.groups, set_nodes(s)) for s in sets]))
    click.echo(f"{output}: {len(sets)} set(s), {sum(len(s.criteria) for s in sets)} rows")


@criteria_cli.command("import")
@click.argument("campaign_code")
@click.argument("path")
@click.option("--dry-run", is_flag=True, help="Check and preview only.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def criteria_import(campaign_code: str, path: str, dry_run: bool, actor: str, now_text: str | None) -> None:
    """Replace the campaign's criteria sets by those of an XLSX template (problems by sheet, row, column)
    or of a YAML file with a ``criteria:`` list (problems by line and field)."""
    campaign = get_campaign(campaign_code)
    if path.endswith((".yaml", ".yml")):
        groups = set(db.session.scalars(select(Unit.group).join(Participation, Participation.unit_id == Unit.id)
                                        .where(Participation.campaign_id == campaign.id)))
        try:
            read = criteria_xlsx.CriteriaRead(parse_criteria(Path(path).read_text(encoding="utf-8"), groups, path))
        except (OSError, UnicodeDecodeError) as exc:
            fail(str(exc))
        except CampaignFileError as exc:
            fail(str(exc))
    else:
        try:
            read = criteria_xlsx.read_sets(Path(path).read_bytes())
        except (OSError, UnitFileError) as exc:
            fail(getattr(exc, "message", str(exc)))
    if not read.ok:
        for issue in read.issues:
            click.echo(str(issue), err=True)
        raise SystemExit(2)
    for s in read.sets:
        leaves = [n for n in s.nodes if n.kind]
        click.echo(f"{s.code} ({', '.join(s.groups) or 'mọi khối'}): {len(s.nodes)} rows, {len(leaves)} criteria, "
                   f"{sum(n.maximum for n in s.nodes if '.' not in n.code)} points")
    if dry_run:
        return
    try:
        changed = replace_criteria(campaign, read.sets, actor=actor, now=parse_instant(now_text),
                                   reason=f"import from {Path(path).name}", source=path)
    except CampaignFileError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    click.echo("imported" if changed else "unchanged")


def _answer_of(view, code: str) -> dict:
    e = view.entries.get(code)
    return {
        "code": code, "draft": (e.draft if e else None) or None, "claimed": e.claimed if e else None,
        "claimed_points": str(view.score.claimed[code]), "verified": e.verified if e else None,
        "verified_points": str(view.score.verified[code]), "link_not_found": bool(e and e.link_not_found),
        "note": e.verify_note if e else "", "response": e.response if e else "",
        "response_reason": e.response_reason if e else "",
    }


@sheet_cli.command("show")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.option("--json", "as_json", is_flag=True)
def sheet_show(campaign_code: str, unit_code: str, as_json: bool) -> None:
    """A unit's sheet: claimed and verified values and points per criterion, flags, totals."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    try:
        _p, view = ev.view_of(campaign, unit)
    except OperationError as exc:
        refused(exc)
    leaves = [n for n in view.nodes() if n.is_leaf]
    doc = {"campaign": campaign.code, "unit": unit.code, "set": view.criteria_set.code,
           "submitted_at": view.sheet.submitted_at.isoformat() if view.sheet and view.sheet.submitted_at else None,
           "claimed_total": str(view.score.claimed_total), "verified_total": str(view.score.verified_total),
           "draft_total": str(view.draft_score.claimed_total), "maximum": str(view.score.maximum),
           "criteria": [_answer_of(view, n.code) for n in leaves],
           "flags": [{"code": f.code, "kind": f.kind, "message": f.message_vi} for f in view.flags]}
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    click.echo(f"{unit.code} · {view.criteria_set.code}: tự chấm {doc['claimed_total']}, sau thẩm định "
               f"{doc['verified_total']} / {doc['maximum']} (nháp {doc['draft_total']})")
    for n in view.nodes():
        indent = "  " * n.depth
        click.echo(f"{indent}{n.code:<8} {view.score.claimed[n.code]:>7} {view.score.verified[n.code]:>7} "
                   f"/{n.maximum:<6} {n.title}")
    for f in view.flags:
        click.echo(f"! {f.message_vi}")


def _run(fn) -> None:
    try:
        message = fn()
    except OperationError as exc:
        refused(exc)
    db.session.commit()
    click.echo(message)


@sheet_cli.command("fill")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.argument("path")
@click.option("--submit", is_flag=True, help="Submit after saving (= submit the dossier, received now).")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_fill(campaign_code, unit_code, path, submit, actor, now_text) -> None:
    """Save a filled XLSX sheet as the unit's draft (checked by the rules); optionally submit it."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    now = parse_instant(now_text)
    try:
        _p, view = ev.view_of(campaign, unit)
        read = criteria_xlsx.read_filled_sheet(Path(path).read_bytes(), view.tree, unit.group)
    except OperationError as exc:
        refused(exc)
    except (OSError, UnitFileError) as exc:
        fail(getattr(exc, "message", str(exc)))
    if read.issues:
        for issue in read.issues:
            click.echo(str(issue), err=True)
        raise SystemExit(2)

    def go():
        v = ev.save_draft(campaign, unit, read.values, actor=actor, now=now)
        if submit:
            v = ev.submit_sheet(campaign, unit, actor=actor, now=now)
            return f"{unit.code}: submitted, self-assessed total {v.score.claimed_total}"
        return f"{unit.code}: draft saved, total {v.draft_score.claimed_total}"
    _run(go)


@sheet_cli.command("submit")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_submit(campaign_code, unit_code, actor, now_text) -> None:
    """Submit the unit's saved draft (= submit the dossier, received at --now)."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    now = parse_instant(now_text)
    _run(lambda: f"{unit.code}: submitted, self-assessed total "
                 f"{ev.submit_sheet(campaign, unit, actor=actor, now=now).score.claimed_total}")


@sheet_cli.command("verify")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.argument("code")
@click.option("--value", "values", multiple=True, help="The verified value, key=value (numerator=40, links=URL…).")
@click.option("--points", help="The verifier's points (overrides the rule).")
@click.option("--not-found", is_flag=True, help="A link criterion: the item was not found.")
@click.option("--note", default="")
@click.option("--stage", type=click.Choice(list(ev.STAGES)), default="preliminary_review", show_default=True)
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_verify(campaign_code, unit_code, code, values, points, not_found, note, stage, actor, now_text) -> None:
    """Record the verifier's finding on one criterion."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    now = parse_instant(now_text)
    value: dict | None = None
    if values:
        value = {}
        for item in values:
            key, sep, v = item.partition("=")
            if not sep:
                fail(f"--value {item!r} must be key=value")
            if key == "links":
                value.setdefault("links", []).append(v)
            elif key in ("yes", "na"):
                value[key] = v.lower() in ("1", "true", "yes", "có")
            else:
                value[key] = v
    pts = None
    if points is not None:
        try:
            pts = Decimal(points.replace(",", "."))
        except InvalidOperation:
            fail(f"--points {points!r} is not a number")

    def go():
        e = ev.verify(campaign, unit, code, actor=actor, now=now, stage=stage, value=value, points=pts,
                      link_not_found=not_found, note=note)
        return f"{unit.code} {code}: verified, {e.verified_score} points"
    _run(go)


@sheet_cli.command("send")
@click.argument("campaign_code")
@click.argument("unit_codes", nargs=-1)
@click.option("--all", "all_units", is_flag=True, help="Every unit with a submitted sheet and no open round.")
@click.option("--days", type=int, default=None, help=f"Working days to answer (default {ev.DEFAULT_CONFIRMATION_DAYS}).")
@click.option("--note", default="")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_send(campaign_code, unit_codes, all_units, days, note, actor, now_text) -> None:
    """Send the verified figures to units to confirm by a deadline in working days."""
    campaign = get_campaign(campaign_code)
    now = parse_instant(now_text)
    if all_units:
        units = ev.submitted_sheet_units(campaign)
    else:
        if not unit_codes:
            fail("give unit codes or --all")
        units = [get_unit(campaign, c) for c in unit_codes]
    for unit in units:
        try:
            rnd = ev.send_figures(campaign, unit, actor=actor, now=now, working_days=days, note=note)
        except OperationError as exc:
            if not all_units:
                refused(exc)
            db.session.rollback()
            click.echo(f"{unit.code}: {exc.message_vi}", err=True)
            continue
        db.session.commit()
        click.echo(f"{unit.code}: sent, confirm by 24:00 {rnd.deadline:%d/%m/%Y}")


@sheet_cli.command("respond")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.argument("answers", nargs=-1, required=True)
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_respond(campaign_code, unit_code, answers, actor, now_text) -> None:
    """The unit's answers: CODE=confirmed or CODE=disputed:reason."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    now = parse_instant(now_text)
    parsed = {}
    for a in answers:
        code, sep, rest = a.partition("=")
        answer, _sep, reason = rest.partition(":")
        if not sep or answer not in ("confirmed", "disputed"):
            fail(f"{a!r}: write CODE=confirmed or CODE=disputed:reason")
        parsed[code] = (answer, reason)
    _run(lambda: f"{unit.code}: round {ev.respond(campaign, unit, parsed, actor=actor, now=now).outcome or 'open'}")


@sheet_cli.command("settle")
@click.argument("campaign_code")
@click.argument("unit_code")
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def sheet_settle(campaign_code, unit_code, reason, actor, now_text) -> None:
    """Close a unit's disputes with a written decision; the verified figures stand."""
    campaign = get_campaign(campaign_code)
    unit = get_unit(campaign, unit_code)
    now = parse_instant(now_text)
    _run(lambda: f"{unit.code}: verified score "
                 f"{ev.settle(campaign, unit, actor=actor, now=now, reason=reason).verified_score}")

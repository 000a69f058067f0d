"""``flask campaign clone``: next year's campaign from this one (workflow/yearly.py).

Output (one tab-separated line each, documented in README "Next year's campaign"):
``date  WHAT  OLD  NEW  RULE``, then ``warning  WHAT  DAY  KIND  message``, ``abolished  UNIT``
for units that probably no longer exist, and last ``created  CODE  YEAR  DEADLINE  N units`` (or
``dry-run  …`` with ``--dry-run``).  A refused clone exits with status 1 and says why.
"""

from __future__ import annotations

import sys

import click

from cli.campaign import campaign_cli, get_campaign, parse_instant
from cli.workdays import parse_date
from workflow import yearly
from workflow.db import db


def print_plan(plan: yearly.ClonePlan) -> None:
    for m in plan.moves:
        rule = f"{m.rule} {m.n}" + (f" {m.extra_days:+d}d" if m.extra_days else "")
        click.echo(f"date\t{m.what}\t{m.old.isoformat()}\t{m.new.isoformat()}\t{rule}")
    for w in plan.warnings:
        click.echo(f"warning\t{w.what}\t{w.day.isoformat()}\t{w.kind}\t{w.message_en}")
    for code in plan.abolished_units:
        left = "left out" if code in plan.left_out else "kept"
        click.echo(f"abolished\t{code}\t{left}")


@campaign_cli.command("clone")
@click.argument("code", metavar="CODE")
@click.option("--code", "new_code", required=True, help="The new campaign's code.")
@click.option("--year", type=int, required=True, help="The new campaign's year.")
@click.option("--deadline", "deadline_text",
              help="The new deadline (default: the same day and month, moved to the next working day).")
@click.option("--leave-out", multiple=True, metavar="UNIT", help="A unit not to take into the new campaign.")
@click.option("--leave-out-abolished", is_flag=True,
              help="Leave out the units that no longer exist (district committees after 1 July 2025).")
@click.option("--dry-run", is_flag=True, help="Print the plan and warnings; save nothing.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--now", "now_text")
def clone_command(code, new_code, year, deadline_text, leave_out, leave_out_abolished, dry_run, actor,
                  now_text) -> None:
    """A draft of next year's campaign: same units, groups, documents, rules, tiers, reminders; dates moved."""
    source, now = get_campaign(code), parse_instant(now_text)
    deadline = parse_date(deadline_text, "--deadline") if deadline_text else None
    try:
        plan = yearly.plan_clone(source, code=new_code, year=year, deadline=deadline, leave_out=list(leave_out))
        if leave_out_abolished and plan.abolished_units:
            plan = yearly.plan_clone(source, code=new_code, year=year, deadline=deadline,
                                     leave_out=sorted(set(leave_out) | set(plan.abolished_units)))
        print_plan(plan)
        if dry_run:
            click.echo(f"dry-run\t{plan.code}\t{plan.year}\t{plan.deadline.isoformat()}\t{len(plan.spec.units)} units")
            return
        new = yearly.clone_campaign(plan, actor=actor, now=now)
        db.session.commit()
    except yearly.CloneRefused as exc:
        db.session.rollback()
        click.echo(f"Lỗi: {exc.message_vi}", err=True)
        click.echo(f"Error: {exc.message_en}", err=True)
        sys.exit(1)
    click.echo(f"created\t{new.code}\t{new.year}\t{new.deadline.isoformat()}\t{len(new.participations)} units")

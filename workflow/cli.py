"""Register the command-line groups of the workflow package."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
@click.option("--seed", default=2019, show_default=True)
def demo_load(now_text: str | None, seed: int) -> None:
    """Load the example campaigns, played out, and a live campaign (idempotent)."""
    from .cli_campaign import parse_instant
    from .db import db
    from .demo import load

    loaded = load(parse_instant(now_text), seed)
    db.session.commit()
    click.echo(f"demo data: {', '.join(loaded) if loaded else 'already loaded'}")


@demo_cli.command("generate")
@click.option("--organizers", default=1, show_default=True, help="Organizers (provinces) GEN01, GEN02, …")
@click.option("--units", default=500, show_default=True, help="Units per organizer.")
@click.option("--campaigns", default=1, show_default=True, help="Campaigns per organizer.")
@click.option("--submitted", default=0.6, show_default=True, help="Share of units with a dossier.")
@click.option("--now", "now_text")
@click.option("--seed", default=7, show_default=True)
def demo_generate(organizers, units, campaigns, submitted, now_text, seed):
    """Build data at a chosen size for measurements (bulk inserts; idempotent per organizer)."""
    from .cli_campaign import parse_instant
    from .demo import generate

    created = generate(organizers=organizers, units=units, campaigns=campaigns, submitted=submitted,
                       now=parse_instant(now_text), seed=seed)
    click.echo(" ".join(f"{k}={v}" for k, v in created.items()))


def register_cli(app: Flask) -> None:
    from .cli_campaign import campaign_cli, submission_cli, tick_command_factory
    from .cli_api import token_cli
    from .cli_users import user_cli
    from .cli_workdays import workdays

    app.cli.add_command(workdays)
    app.cli.add_command(campaign_cli)
    app.cli.add_command(submission_cli)
    app.cli.add_command(tick_command_factory())
    app.cli.add_command(demo_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(token_cli)

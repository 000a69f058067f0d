"""``flask demo load`` and ``flask demo generate``: demo data and data at a chosen size."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli.campaign import parse_instant
from workflow.db import db
from workflow.demo import generate, load

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--now", "now_text", help="As of this instant (default: the clock).")
@click.option("--seed", default=2019, show_default=True)
def demo_load(now_text: str | None, seed: int) -> None:
    """Load the example campaigns, played out, and a live campaign (idempotent)."""
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
    created = generate(organizers=organizers, units=units, campaigns=campaigns, submitted=submitted,
                       now=parse_instant(now_text), seed=seed)
    click.echo(" ".join(f"{k}={v}" for k, v in created.items()))



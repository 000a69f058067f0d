"""``flask files orphans``: count (and with ``--delete`` remove) the upload folder's orphans."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from workflow.db import db, utcnow
from workflow.operations import clean_orphan_files

files_cli = AppGroup("files", help="The upload folder.")


@files_cli.command("orphans")
@click.option("--delete", is_flag=True, help="Remove them (the scheduler does so every FILES_CLEAN_SECONDS).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a line.")
def orphans_command(delete: bool, as_json: bool) -> None:
    """Half-written (.part) files and stored files no dossier refers to, older than an hour."""
    summary = clean_orphan_files(current_app.config["UPLOAD_FOLDER"], utcnow(), delete=delete)
    db.session.rollback()
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    click.echo(f"{summary['partial']} partial, {summary['unreferenced']} unreferenced, {summary['bytes']} bytes"
               + (f"; removed {summary['removed']}" if delete else ""))

"""``flask scheduler run`` (the scheduler process) and ``flask serve`` (app and scheduler in one, for make run)."""

from __future__ import annotations

import logging
import os
import time

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from cli.jobs import JOBS
from devkey import DevKeyRefused, refuse_dev_key_off_loopback
from notifications.links import app_url_from
from notifications.scheduler import run_forever, start_in_background

scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


class UTCFormatter(logging.Formatter):
    """Log times in UTC and say so: ``2026-12-02T01:05:09Z`` (gunicorn's own lines carry ``+0000``)."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler (tick and mail) until stopped; one of several acts at a time."""
    _logging()
    run_forever(current_app._get_current_object(), JOBS)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve the app with its scheduler in one process (make run; not for production)."""
    _logging()
    app = current_app._get_current_object()
    if not os.environ.get("APP_URL"):  # links in mail go where this server listens
        app.config["APP_URL"] = app_url_from({"HOST": host, "PORT": port})
    try:
        refuse_dev_key_off_loopback(app.config["SECRET_KEY"], host)
    except DevKeyRefused as exc:
        click.echo(f"Hạn Chót: configuration error: {exc}", err=True)
        raise SystemExit(2) from None
    start_in_background(app, JOBS)
    click.echo(f"Hạn Chót: http://{host}:{port}/  (scheduler running in this process)")
    # Not app.run(): Flask ignores it inside a `flask` command.  No reloader, so
    # no second process and no second scheduler.
    run_simple(host, port, app, use_reloader=False, threaded=True)

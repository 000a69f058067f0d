"""Campaigns, units, submissions, the state machines, the working-day calendar."""

from __future__ import annotations

from flask import Flask
from flask_migrate import Migrate

from .db import db as database

migrate = Migrate(render_as_batch=True, compare_type=True)


def init_app(app: Flask) -> None:
    database.init_app(app)
    from flask_sqlalchemy.session import Session

    from .revisions import install

    install(Session)  # every change through db.session counts (workflow/revisions.py)
    migrate.init_app(app, database)
    from . import models  # noqa: F401  (register the tables)
    from .cli import register_cli
    from .web import init_app as init_web

    register_cli(app)
    init_web(app)

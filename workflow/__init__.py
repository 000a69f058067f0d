"""The domain: campaigns, units, submissions, the state machine, the working-day calendar."""

from __future__ import annotations

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy.session import Session

from . import award_models, criteria, milestone_docs, models, ratelimits, tick_health  # noqa: F401  (register the tables)
from .db import db as database
from .revisions import install

migrate = Migrate(render_as_batch=True, compare_type=True)


def init_app(app: Flask) -> None:
    database.init_app(app)
    install(Session)  # every change through db.session counts (workflow/revisions.py)
    migrate.init_app(app, database)

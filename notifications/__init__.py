"""Reminder rules, the mail outbox, the scheduler."""

from __future__ import annotations

from flask import Flask

from . import models  # noqa: F401  (register the outbox table)
from .dispatch import mail


def init_app(app: Flask) -> None:
    # Flask-Mail suppresses sending when TESTING; the outbox decides instead.
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)

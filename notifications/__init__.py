"""Reminder rules, the mail outbox, the scheduler."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import models  # noqa: F401  (register the outbox table)
    from .cli import register_cli
    from .dispatch import mail

    # Flask-Mail suppresses sending when TESTING; the outbox decides instead.
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)
    register_cli(app)

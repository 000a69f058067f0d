"""The command line: ``flask campaign``, ``submission``, ``tick``, ``workdays``, ``user``,
``token``, ``mail``, ``reminders``, ``scheduler``, ``serve``, ``demo``, ``criteria``, ``sheet``, ``files``.  Thin: each command
parses, calls one operation, commits and reports."""

from __future__ import annotations

from flask import Flask

from cli import mail, yearly  # yearly also adds `campaign clone`, `decision`, `publish`
from cli.campaign import campaign_cli, submission_cli, tick_command_factory
from cli.demo import demo_cli
from cli.evaluation import criteria_cli, sheet_cli
from cli.files import files_cli
from cli.scheduler import scheduler_cli, serve_command
from cli.tokens import token_cli
from cli.users import user_cli
from cli.workdays import workdays


def register_cli(app: Flask) -> None:
    for group in (workdays, campaign_cli, submission_cli, tick_command_factory(), demo_cli, user_cli, token_cli,
                  mail.mail_cli, mail.reminders_cli, yearly.awards_cli, scheduler_cli, serve_command, criteria_cli,
                  sheet_cli, files_cli):
        app.cli.add_command(group)

"""Register the command-line groups of the workflow package."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from .cli_campaign import campaign_cli, submission_cli, tick_command_factory
    from .cli_workdays import workdays

    app.cli.add_command(workdays)
    app.cli.add_command(campaign_cli)
    app.cli.add_command(submission_cli)
    app.cli.add_command(tick_command_factory())

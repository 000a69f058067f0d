"""A unit's page in a campaign: status, countdown, upload, receipt, history, ICS."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("units", __name__)

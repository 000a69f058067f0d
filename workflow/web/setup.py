"""Setting up a campaign: forms, units import from XLSX/CSV, exports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("setup", __name__)

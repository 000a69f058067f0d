"""Web pages of the workflow (thin: parse, call one operation, render)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("workflow", __name__)


@bp.get("/")
def index():
    """Show the campaigns."""
    return render_template("index.html")

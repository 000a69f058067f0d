"""The web layer: sign-in, pages (``web.pages``), the JSON API (``web.api``).
Thin: each view parses, calls one operation, commits, renders or redirects."""

from __future__ import annotations

from flask import Flask, abort, g, request, session
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from web import page_cache
from web.api import views as api_views
from web.common import (
    CSP,
    _day,
    _IdConverter,
    _local,
    _nav_links,
    _register_errors,
    _state_label,
    babel,
    bootstrap,
    csrf,
    lang,
    login_manager,
    select_locale,
)
from web.pages import auth, dashboard, public, setup, unit, yearly
from workflow.db import db, utcnow


def init_app(app: Flask) -> None:
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Vui lòng đăng nhập để tiếp tục.")
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    bootstrap.init_app(app)
    page_cache.init_app(app)

    # <int:…> in a URL: at most the largest id the database holds (a 32-bit integer column); a longer number
    # is a 404, not a 500 when the database cannot compare it (SQLite: "int too large").
    app.url_map.converters["int"] = _IdConverter

    for module in (auth, dashboard, unit, setup, yearly, public):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_views.bp)
    csrf.exempt(api_views.bp)

    app.jinja_env.filters["local_time"] = _local
    app.jinja_env.filters["day"] = _day
    app.jinja_env.globals["current_lang"] = lang
    app.jinja_env.globals["endpoints"] = lambda: app.view_functions.keys()
    app.jinja_env.globals["nav_links"] = _nav_links
    app.jinja_env.globals["state_label"] = _state_label

    @app.before_request
    def _started():
        g.request_started = utcnow()

    @app.before_request
    def _read_only_connection():
        """Pages that only read (``page_cache.cached`` views) run without BEGIN and ROLLBACK on PostgreSQL:
        two round trips of a three-query request.  Under READ COMMITTED each statement reads its own
        snapshot either way, so what they see is the same."""
        view = app.view_functions.get(request.endpoint or "")
        if request.method in ("GET", "HEAD") and getattr(view, "reads_only", False) \
                and db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    @app.before_request
    def _no_nul():
        """A NUL character is in no code, name or text a person types, and PostgreSQL can neither store nor
        compare one: refused as a bad request (400) before any query, not a server error.  (The API checks its
        own parameters and answers in problem+json: /api/v1/campaigns/%00 is a 404 there.)"""
        if request.path.startswith("/api/"):
            return
        pairs = list(request.args.items(multi=True))
        if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded",
                                                             "multipart/form-data"):
            pairs += request.form.items(multi=True)
        # (a multipart part whose name cannot be read has None for a name)
        if "\x00" in request.path or any("\x00" in (key or "") or "\x00" in (value or "") for key, value in pairs):
            abort(400)

    @app.before_request
    def _session_expiry():
        if not request.path.startswith("/api/"):
            session.permanent = True  # the API is stateless: no cookie on its answers

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    _register_errors(app)

    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers (no database)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers."""
        db.session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

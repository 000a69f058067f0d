"""The web layer: sign-in, pages (``web.pages``), the JSON API (``web.api``).
Thin: each view parses, calls one operation, commits, renders or redirects."""

from __future__ import annotations

from flask import Flask, Response, abort, g, request, session
from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from devkey import DEV_SECRET_KEY, is_loopback
from web import page_cache
from web.api import sheet_views as _sheet_views  # noqa: F401  (registers the sheets' operations on api_views.bp)
from web.api import views as api_views
from web.api import year_views as api_year_views
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
    install_gettext,
    lang,
    login_manager,
    points_text,
    select_locale,
)
from web.pages import auth, dashboard, evaluation, public, setup, unit, yearly
from workflow.db import db, utcnow


class StampRequestStart:
    """WSGI middleware: the instant a request reached the app, taken before anything (the CSRF check,
    a form parser) reads its body.  A 15 MB upload begun at 23:59:52 that has finished arriving at
    00:00:07 was received at 23:59:52 (``request_received_at``; docs/operations.md, "Received instants")."""

    KEY = "hanchot.request_started"

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.setdefault(self.KEY, utcnow())
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    # Behind PROXY_COUNT proxies (nginx: 1), the client's address and scheme are the ones the nearest
    # of them saw (X-Forwarded-For/-Proto): the per-IP sign-in limits count clients, not the proxy.
    proxies = int(app.config.get("PROXY_COUNT", 0) or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.wsgi_app = StampRequestStart(app.wsgi_app)  # type: ignore[method-assign]
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Vui lòng đăng nhập để tiếp tục.")
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    install_gettext(app)
    bootstrap.init_app(app)
    page_cache.init_app(app)

    # <int:…> in a URL: at most the largest id the database holds (a 32-bit integer column); a longer number
    # is a 404, not a 500 when the database cannot compare it (SQLite: "int too large").
    app.url_map.converters["int"] = _IdConverter

    for module in (auth, dashboard, unit, setup, evaluation, yearly, public):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_views.bp)
    csrf.exempt(api_views.bp)
    app.register_blueprint(api_year_views.bp)
    csrf.exempt(api_year_views.bp)

    app.jinja_env.filters["local_time"] = _local
    app.jinja_env.filters["day"] = _day
    app.jinja_env.globals["points_text"] = points_text
    app.jinja_env.globals["current_lang"] = lang
    app.jinja_env.globals["endpoints"] = lambda: app.view_functions.keys()
    app.jinja_env.globals["nav_links"] = _nav_links
    app.jinja_env.globals["state_label"] = _state_label

    @app.before_request
    def _dev_key_on_loopback_only():
        """The development key answers only requests that arrived on a loopback address, whatever
        server runs the app (werkzeug's and gunicorn's put the connection's socket in the environ)."""
        if app.config["SECRET_KEY"] != DEV_SECRET_KEY:
            return None
        sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
        try:
            local = sock.getsockname() if sock is not None else None
        except (OSError, AttributeError):
            local = None
        # (a Unix socket's name is a path: reachable from this machine only)
        if isinstance(local, tuple) and local and not is_loopback(str(local[0])):
            app.logger.error("refused: the development SECRET_KEY on %r; set SECRET_KEY", local)
            return Response("Hạn Chót: SECRET_KEY chưa được đặt (khóa phát triển chỉ dùng trên 127.0.0.1). "
                            "SECRET_KEY is not set (the development key serves 127.0.0.1 only).\n",
                            503, mimetype="text/plain")
        return None

    @app.before_request
    def _started():
        g.request_started = request.environ.get(StampRequestStart.KEY) or utcnow()

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
        # the API and the calendar feed are stateless: no cookie on their answers
        if not request.path.startswith("/api/") and request.endpoint != "units.calendar":
            session.permanent = True

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # A signed-in person's pages are theirs: kept by no shared cache and by no browser cache (the back
        # button after signing out on a shared computer), unless the view set its own Cache-Control.
        if session.get("_user_id") is not None and not request.path.startswith(("/api/", "/static/")):
            response.headers.setdefault("Cache-Control", "private, no-store")
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

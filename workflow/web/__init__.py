"""The web layer: sign-in, pages, the JSON API.  Thin: each view parses, calls
one operation, commits, renders or redirects."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Flask, abort, g, render_template, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import IntegerConverter

from ..db import db
from ..models import User
from ..workdays import format_day

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()

LANGUAGES = ("vi", "en")

#: Content-Security-Policy: no inline scripts or styles, nothing from elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def language_of(user_language: str | None) -> str:
    """The language chosen in this session, else the user's, else Vietnamese."""
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return user_language if user_language in LANGUAGES else "vi"


def select_locale() -> str:
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LANGUAGES or not (current_user and current_user.is_authenticated):
        return language_of(None)  # without loading the user
    return language_of(current_user.language)


def lang() -> str:
    return str(get_locale() or "vi")


def _local(instant: datetime | None) -> str:
    if instant is None:
        return "—"
    from flask import current_app

    local = instant.astimezone(current_app.config["TZ"])
    return f"{local:%H:%M} {format_day(local.date(), lang())}"


def _day(value: date | None) -> str:
    return format_day(value, lang()) if value else "—"


#: Extra menu entries: (endpoint, Vietnamese label, roles that see it).
NAV = [
    ("dashboard.outbox", _l("Hộp thư đi"), ("organizer_admin",)),
    ("dashboard.calendar", _l("Lịch làm việc"), ("organizer_admin", "council", "viewer", "district_coordinator",
                                                 "focal_point")),
    ("setup.new_campaign", _l("Tạo đợt mới"), ("organizer_admin",)),
    ("api.docs", "API", ("organizer_admin",)),
]


def _nav_links() -> list[tuple[str, str]]:
    from flask import current_app

    if not current_user.is_authenticated:
        return []
    return [(endpoint, str(label)) for endpoint, label, roles in NAV
            if endpoint in current_app.view_functions and current_user.role in roles]


def _state_label(campaign) -> str:
    from ..machine import state_name
    from ..operations import state_at
    from ..db import utcnow

    return state_name(state_at(campaign, utcnow()), lang())


class _IdConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(map, *args, **kwargs)


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
    from . import page_cache

    page_cache.init_app(app)

    # <int:…> in a URL: at most the largest id the database holds (a 32-bit integer column); a longer number
    # is a 404, not a 500 when the database cannot compare it (SQLite: "int too large").
    app.url_map.converters["int"] = _IdConverter

    from . import api, auth, dashboard, setup, unit_pages

    for module in (auth, dashboard, unit_pages, setup):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)

    app.jinja_env.filters["local_time"] = _local
    app.jinja_env.filters["day"] = _day
    app.jinja_env.globals["current_lang"] = lang
    app.jinja_env.globals["endpoints"] = lambda: app.view_functions.keys()
    app.jinja_env.globals["nav_links"] = _nav_links
    app.jinja_env.globals["state_label"] = _state_label

    @app.before_request
    def _started():
        from ..db import utcnow

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
        from sqlalchemy import text

        db.session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    from sqlalchemy.exc import SQLAlchemyError

    if g.get("database_down"):
        return None  # drawing the 503 page: don't ask the database again
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    except SQLAlchemyError:
        # The database is away: the request ends with the 503 page (not a sign-in
        # redirect, not a 500 while the page draws the menu for this user).
        db.session.rollback()
        g.database_down = True
        raise
    return user if user and user.active else None


def request_received_at() -> datetime:
    """When this request reached us.

    Behind a front proxy that stamps ``X-Request-Start: t=<epoch seconds>`` (nginx:
    ``proxy_set_header X-Request-Start "t=${msec}";``) and with TRUST_REQUEST_START=1,
    that stamp: a dossier uploaded at 23:59:59 must not become late while it waits
    for a free worker at midnight.  Otherwise the clock when the request began.
    """
    from flask import current_app

    from ..db import utcnow

    started = g.get("request_started") or utcnow()
    if not current_app.config.get("TRUST_REQUEST_START"):
        return started
    raw = (request.headers.get("X-Request-Start") or "").strip().removeprefix("t=")
    try:
        value = float(raw)
    except ValueError:
        return started
    seconds = value / 1e6 if value > 1e14 else value / 1e3 if value > 1e11 else value
    from datetime import timezone

    stamped = datetime.fromtimestamp(seconds, timezone.utc)
    # Only a plausible stamp: not after we began, not more than ten minutes before.
    if started - timedelta(minutes=10) <= stamped <= started:
        return stamped
    return started


ERRORS = {
    400: (_l("Yêu cầu không hợp lệ"), "Bad request", _l("Dữ liệu gửi lên không hợp lệ. Vui lòng kiểm tra và thử lại.")),
    401: (_l("Cần đăng nhập"), "Sign-in required", _l("Vui lòng đăng nhập để xem trang này.")),
    403: (_l("Không có quyền"), "Forbidden", _l("Tài khoản của bạn không có quyền thực hiện thao tác này.")),
    404: (_l("Không tìm thấy"), "Not found",
          _l("Trang hoặc hồ sơ bạn tìm không có, hoặc bạn không có quyền xem.")),
    405: (_l("Thao tác không hợp lệ"), "Method not allowed", _l("Thao tác này không được hỗ trợ ở địa chỉ này.")),
    413: (_l("Tệp quá lớn"), "File too large", _l("Tệp tải lên vượt quá dung lượng cho phép.")),
    429: (_l("Quá nhiều yêu cầu"), "Too many requests", _l("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau ít phút.")),
    500: (_l("Lỗi hệ thống"), "Server error",
          _l("Đã có lỗi xảy ra. Không có dữ liệu nào bị mất; vui lòng thử lại sau.")),
    503: (_l("Tạm thời gián đoạn"), "Service unavailable",
          _l("Hệ thống tạm thời không truy cập được cơ sở dữ liệu. Vui lòng thử lại sau ít phút.")),
}


def _register_errors(app: Flask) -> None:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError
    from werkzeug.exceptions import HTTPException

    from .api import is_api_request, problem

    def page(code: int, detail: str | None = None):
        title, title_en, message = ERRORS.get(code, ERRORS[500])
        if is_api_request():
            return problem(code, str(detail or message), str(detail or title_en))
        return render_template("error.html", code=code, title=str(title), message=str(detail or message)), code

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return page(400, _l("Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và gửi lại."))

    @app.errorhandler(HTTPException)
    def _http(exc):
        if exc.code == 401 and not is_api_request():
            return login_manager.unauthorized()
        return page(exc.code or 500)

    @app.errorhandler(OperationalError)
    def _db_down(exc):
        g.database_down = True
        db.session.rollback()
        # The rollback expired the signed-in user; the 503 page must not reload it (its language, its
        # name in the menu) from the database that just went away: drawn as for a visitor.
        g._login_user = login_manager.anonymous_user()
        app.logger.warning("database unavailable: %s", exc.__class__.__name__)
        return page(503)

    @app.errorhandler(SQLAlchemyError)
    def _db_error(exc):
        db.session.rollback()
        app.logger.exception("database error")
        return page(500)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        db.session.rollback()
        app.logger.exception("unexpected error")
        return page(500)

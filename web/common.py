"""What every page shares: the extensions, the language, date filters, the
received instant of a request, the error pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import Flask, current_app, g, has_app_context, render_template, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager, current_user, login_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from web.api.problems import is_api_request, problem
from workflow.campaigns import state_at
from workflow.db import db, utcnow
from workflow.machine import state_name
from workflow.models import User
from workflow.workdays import format_day

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
    """The request's language, ``vi`` or ``en``."""
    return _request_catalogue()[1]


def translations():
    """The request's catalogue.  Flask-Babel's own lookup walks ``g``, the domain and the locale again for each
    string (a drawn dashboard asks for about 150: a tenth of its CPU); kept per request beside the locale it
    is for, so that ``force_locale`` or ``refresh`` within a request is still honoured."""
    return _request_catalogue()[2]


def _request_catalogue() -> tuple:
    """(locale, language, translations) of this request; Flask-Babel's own answers outside one."""
    if not has_app_context():
        return None, "vi", get_translations()
    # ``g`` resolved once: each use of the proxy looks the context up again (a dashboard asks ~150 times).
    store = g._get_current_object().__dict__
    found = store.get("_catalogue")
    babel = store.get("_flask_babel")  # Flask-Babel's own per-request state: the locale it settled on
    if found is None or found[0] is None or found[0] is not getattr(babel, "babel_locale", None):
        locale = get_locale()
        found = store["_catalogue"] = (locale, str(locale or "vi"), get_translations())
    return found


def gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext`` through the request's catalogue (:func:`translations`)."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def install_gettext(app: Flask) -> None:
    """The templates' ``_()``, ``{% trans %}`` and ``ngettext`` through the request's catalogue."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)


def _local(instant: datetime | None) -> str:
    if instant is None:
        return "—"

    local = instant.astimezone(current_app.config["TZ"])
    return f"{local:%H:%M} {format_day(local.date(), lang())}"


def points_text(value) -> str:
    """A number of points as officials write it: ``100``, ``92,5`` (``92.5`` in English)."""
    if value is None:
        return "—"
    text = format(Decimal(str(value)).normalize(), "f")
    return text.replace(".", ",") if lang() == "vi" else text


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
    if not current_user.is_authenticated:
        return []
    return [(endpoint, str(label)) for endpoint, label, roles in NAV
            if endpoint in current_app.view_functions and current_user.role in roles]


def _state_label(campaign) -> str:

    return state_name(state_at(campaign, utcnow()), lang())


class _IdConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(map, *args, **kwargs)


def sign_in(user: User) -> None:
    """Start a session for ``user``: Flask-Login's, plus the instant it began (the absolute lifetime)
    and the user's session generation (a sign-out or new password elsewhere ends it)."""
    login_user(user)
    session["_gen"] = user.session_generation or 0
    session["_since"] = int(utcnow().timestamp())


def session_generation() -> int | None:
    """The session generation this session was signed in under, or None when the session is not one
    to honour: none, or older than PERMANENT_SESSION_LIFETIME since its sign-in, however often it
    was used (the cookie's own expiry is renewed by each request; this is not)."""
    gen, since = session.get("_gen"), session.get("_since")
    if not isinstance(gen, int) or not isinstance(since, int) or isinstance(gen, bool):
        return None
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    age = utcnow().timestamp() - since
    if age < -60 or age > lifetime:
        return None
    return gen


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if g.get("database_down"):
        return None  # drawing the 503 page: don't ask the database again
    generation = session_generation()
    if generation is None:
        return None
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
    return user if user and user.active and user.session_generation == generation else None


def request_received_at() -> datetime:
    """When this request reached us.

    Behind a front proxy that stamps ``X-Request-Start: t=<epoch seconds>`` (nginx:
    ``proxy_set_header X-Request-Start "t=${msec}";``) and with TRUST_REQUEST_START=1,
    that stamp: a dossier uploaded at 23:59:59 must not become late while it waits
    for a free worker at midnight.  Otherwise the clock when the request began.
    """
    started = g.get("request_started") or utcnow()
    if not current_app.config.get("TRUST_REQUEST_START"):
        return started
    raw = (request.headers.get("X-Request-Start") or "").strip().removeprefix("t=")
    try:
        value = float(raw)
    except ValueError:
        return started
    seconds = value / 1e6 if value > 1e14 else value / 1e3 if value > 1e11 else value

    stamped = datetime.fromtimestamp(seconds, UTC)
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

"""Sign in with a password or a single-use link sent by mail; reset a password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from notifications.queue import build_row, insert_rows
from web.common import gettext as _
from web.common import lang, sign_in
from workflow.accounts import (
    MIN_PASSWORD,
    AccountError,
    authenticate,
    consume_link,
    end_sessions,
    issue_link,
    set_password,
    throttle_link_mail,
)
from workflow.db import db, utcnow
from workflow.models import User

bp = Blueprint("auth", __name__)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = EmailField(_l("Thư điện tử"), filters=[_strip], validators=[DataRequired(_l("Vui lòng nhập địa chỉ thư điện tử.")),
                                                  Email(_l("Địa chỉ thư điện tử không hợp lệ."))])
    password = PasswordField(_l("Mật khẩu"), validators=[DataRequired(_l("Vui lòng nhập mật khẩu."))])


class LinkForm(FlaskForm):
    email = EmailField(_l("Thư điện tử"), filters=[_strip], validators=[DataRequired(_l("Vui lòng nhập địa chỉ thư điện tử.")),
                                                  Email(_l("Địa chỉ thư điện tử không hợp lệ."))])


#: The token of a link, read from the link's fragment by static/app.js (or pasted from the mail).
def _token_field():
    return StringField(_l("Mã trong liên kết"), filters=[_strip], validators=[
        DataRequired(_l("Liên kết không đủ: thiếu mã sau dấu #. Vui lòng mở đúng liên kết trong thư.")),
        Length(max=128)])


class TokenForm(FlaskForm):
    token = _token_field()


class ResetForm(FlaskForm):
    token = _token_field()
    password = PasswordField(_l("Mật khẩu mới"), validators=[
        DataRequired(_l("Vui lòng nhập mật khẩu.")),
        Length(min=MIN_PASSWORD, message=_l("Mật khẩu cần ít nhất %(n)s ký tự.", n=MIN_PASSWORD))])
    confirm = PasswordField(_l("Nhập lại mật khẩu"), validators=[EqualTo("password", _l("Hai mật khẩu không khớp."))])


def _client_ip() -> str:
    return (request.remote_addr or "?")[:64]


def _safe_next(target: str | None) -> str:
    # A browser drops tabs and line breaks and reads "\\" as "/": "/\t/host" and "/\\host" are "//host".
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return target
    return url_for("dashboard.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data, ip=_client_ip(), now=utcnow())
        except AccountError as exc:
            db.session.commit()  # the refused attempt stays on record
            flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
            return render_template("auth/login.html", form=form, link_form=LinkForm()), 429
        db.session.commit()
        if user is None:
            flash(_("Thư điện tử hoặc mật khẩu không đúng."), "danger")
            return render_template("auth/login.html", form=form, link_form=LinkForm()), 200
        sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, link_form=LinkForm())


def _send_link(user: User, purpose: str) -> None:
    token = issue_link(user, purpose, utcnow())
    # The token travels after "#": a browser never sends the fragment, so it is in no request line and
    # no access log (the dev server's, gunicorn's, nginx's); the page posts it in a form's body.
    endpoint = "auth.magic" if purpose == "magic" else "auth.reset"
    link = current_app.config["APP_URL"].rstrip("/") + url_for(endpoint) + "#" + token
    insert_rows([build_row(kind="signin_link" if purpose == "magic" else "password_reset", campaign=None,
                           unit_id=user.unit_id, occurrence=token[:16], recipient=user.email,
                           language=user.language, context={"user": user, "link": link,
                                                            "organizer": user.organizer})])


def _mail_link(form: LinkForm, purpose: str) -> bool:
    """Mail a link when the address has an active account; False when the request is over the limits."""
    email = form.email.data.strip().lower()
    try:
        throttle_link_mail(email, _client_ip(), utcnow())
    except AccountError as exc:
        flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
        return False
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None and user.active:
        _send_link(user, purpose)
        db.session.commit()
    return True


@bp.route("/login/link", methods=["POST"])
def request_link():
    """Mail a single-use sign-in link (the same answer whether or not the address exists)."""
    form = LinkForm()
    if form.validate_on_submit():
        if not _mail_link(form, "magic"):
            return render_template("auth/login.html", form=LoginForm(), link_form=form), 429
        flash(_("Nếu địa chỉ này có tài khoản, một liên kết đăng nhập (dùng một lần, hiệu lực 24 giờ) đã được gửi tới hộp thư."),
              "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/login.html", form=LoginForm(), link_form=form), 400


@bp.route("/login/link/use", methods=["GET", "POST"])
def magic():
    """Sign in through a link sent by mail: single use, expiring.  The link carries its token in the
    fragment; this page puts it in a form (static/app.js) and the POST spends it."""
    form = TokenForm()
    if request.method == "GET":
        return render_template("auth/link.html", form=form)
    user = consume_link(form.token.data or "", "magic", utcnow()) if form.validate_on_submit() else None
    if user is None:
        db.session.rollback()
        flash(_("Liên kết đăng nhập không hợp lệ, đã dùng hoặc đã hết hạn. Vui lòng yêu cầu liên kết mới."), "danger")
        return redirect(url_for("auth.login"))
    db.session.commit()
    sign_in(user)
    return redirect(url_for("dashboard.home"))


@bp.route("/login/link/<path:token>")
@bp.route("/password/reset/<path:token>", methods=["GET", "POST"])
def old_link(token: str):
    """A link of the earlier form (token in the path): never spent, since its token is in logs."""
    flash(_("Liên kết này theo mẫu cũ và không còn dùng được. Vui lòng yêu cầu liên kết mới."), "warning")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot():
    """Mail a password-reset link."""
    form = LinkForm()
    if form.validate_on_submit():
        if not _mail_link(form, "reset"):
            return render_template("auth/forgot.html", form=form), 429
        flash(_("Nếu địa chỉ này có tài khoản, liên kết đặt lại mật khẩu (hiệu lực 2 giờ) đã được gửi tới hộp thư."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset", methods=["GET", "POST"])
def reset():
    """Choose a new password through a reset link (its token in the fragment, posted with the form).
    The token is spent when the new password is set; every session of the account ends."""
    form = ResetForm()
    if form.validate_on_submit():
        user = consume_link(form.token.data or "", "reset", utcnow())
        if user is None:
            db.session.rollback()
            flash(_("Liên kết đặt lại mật khẩu không hợp lệ, đã dùng hoặc đã hết hạn."), "danger")
            return redirect(url_for("auth.forgot"))
        try:
            set_password(user, form.password.data, actor=user.email)
        except AccountError as exc:
            db.session.rollback()
            flash(exc.message_vi if lang() == "vi" else exc.message_en, "danger")
            return render_template("auth/reset.html", form=form), 400
        db.session.commit()
        sign_in(user)
        flash(_("Đã đặt mật khẩu mới."), "success")
        return redirect(url_for("dashboard.home"))
    return render_template("auth/reset.html", form=form), 400 if request.method == "POST" else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out, everywhere: every session of this account ends, a copied cookie included."""
    end_sessions(current_user)
    db.session.commit()
    logout_user()
    for key in ("_gen", "_since"):
        session.pop(key, None)
    flash(_("Đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))

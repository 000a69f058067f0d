"""Hạn Chót: the app factory and its configuration.

``flask`` finds ``create_app`` here with no flags.  Everything is read from the
environment with defaults that make ``make run`` work on a fresh machine.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

import cli
import notifications
import web
import workflow
from devkey import DEV_SECRET_KEY, DevKeyRefused, refuse_dev_key_off_loopback
from notifications.links import app_url_from


class ConfigError(Exception):
    """A setting that stops start-up; its message is one line for a person."""


class Config:
    """Settings from the environment, with defaults for local use."""

    #: ``development`` (default) or ``production``.
    APP_ENV = os.environ.get("APP_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    #: Default: an SQLite file in the instance folder (set in create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "")
    #: The time zone deadlines are read and shown in.
    TIMEZONE = os.environ.get("TIMEZONE", "Asia/Ho_Chi_Minh")
    #: Where uploaded documents are stored (default: instance/uploads).
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", "")
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024
    #: Mail: with no server, mail stays in the outbox, readable in the app.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "0") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "han-chot@localhost")
    #: Seconds before an SMTP connection or reply is given up on.
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "30"))
    #: Rows sent per SMTP connection; a failed row waits BASE·2^(attempts-1)
    #: seconds (at most MAX) and fails for good after MAX_ATTEMPTS.
    MAIL_BATCH_SIZE = int(os.environ.get("MAIL_BATCH_SIZE", "200"))
    MAIL_RETRY_BASE_SECONDS = float(os.environ.get("MAIL_RETRY_BASE_SECONDS", "30"))
    MAIL_RETRY_MAX_SECONDS = float(os.environ.get("MAIL_RETRY_MAX_SECONDS", "3600"))
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "12"))
    #: How long a dispatcher may hold claimed rows before others take them back.
    MAIL_LEASE_SECONDS = float(os.environ.get("MAIL_LEASE_SECONDS", "300"))
    MAIL_MESSAGE_ID_DOMAIN = os.environ.get("MAIL_MESSAGE_ID_DOMAIN", "han-chot.local")
    #: The scheduler's periods, in seconds.
    TICK_SECONDS = float(os.environ.get("TICK_SECONDS", "60"))
    DISPATCH_SECONDS = float(os.environ.get("DISPATCH_SECONDS", "10"))
    #: How often the scheduler removes orphan upload files (cli/jobs.py; also once at its start).
    FILES_CLEAN_SECONDS = float(os.environ.get("FILES_CLEAN_SECONDS", "3600"))
    #: Behind a front proxy that stamps X-Request-Start, take uploads' received
    #: instant from it (README, "Production deployment").
    TRUST_REQUEST_START = os.environ.get("TRUST_REQUEST_START", "0") == "1"
    #: How many reverse proxies stand in front of the app (the shipped nginx: 1). With N > 0 the client
    #: address (sign-in limits, logs) and scheme are taken from the N-th X-Forwarded-For/-Proto value
    #: from the right; 0 (default): the socket's peer. Never more than there are: a client could then
    #: choose its own address.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    #: The public address of the app, for links in mail (derived from HOST/PORT when not set).
    APP_URL = app_url_from(os.environ)
    #: No SELECT 1 per checkout: a connection the server closed is replaced by
    #: workflow/db.py's socket check instead (a restart costs no failed request).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": os.environ.get("DATABASE_PRE_PING", "0") == "1"}
    #: Drawn pages kept per web process (MiB; 0: none), served again while
    #: nothing they show has changed (web/page_cache.py), at most
    #: PAGE_CACHE_SECONDS old.
    PAGE_CACHE_MB = float(os.environ.get("PAGE_CACHE_MB", "32"))
    PAGE_CACHE_SECONDS = float(os.environ.get("PAGE_CACHE_SECONDS", "300"))
    #: How passwords are hashed (werkzeug's scrypt, n=32768). Not read from the
    #: environment: only the test suite sets a cheaper one.
    PASSWORD_HASH_METHOD = "scrypt"
    #: Sign-in sessions end after this many hours.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=float(os.environ.get("SESSION_HOURS", "8")))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = APP_ENV == "production"
    REMEMBER_COOKIE_SECURE = APP_ENV == "production"
    REMEMBER_COOKIE_HTTPONLY = True


def _check_config(app: Flask) -> None:
    """Refuse a bad setting with one clear line."""
    try:
        app.config["TZ"] = ZoneInfo(app.config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE: unknown time zone {app.config['TIMEZONE']!r} (e.g. Asia/Ho_Chi_Minh)") from None
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(f"DATABASE_URL: malformed database URL {uri!r} (e.g. postgresql+psycopg://user@host/db)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL: unsupported database {url.get_backend_name()!r}; use sqlite or postgresql")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the installed driver; plain postgresql:// means psycopg2.
        url = url.set(drivername="postgresql+psycopg")
        app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ConfigError(f"DATABASE_URL: unknown or uninstalled database driver {url.drivername!r}; "
                          "use sqlite or postgresql+psycopg") from None
    if app.config["APP_ENV"] == "production" and not app.config["SECRET_KEY"]:
        raise ConfigError("SECRET_KEY: must be set when APP_ENV=production")
    if app.config["APP_ENV"] == "production" and app.config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError("SECRET_KEY: the development key cannot be used when APP_ENV=production")
    # The addresses a server started from here will listen on, as far as the environment tells
    # (gunicorn's BIND, `flask run --host` through FLASK_RUN_HOST); `flask serve` checks its --host.
    binds = [b.strip() for b in (os.environ.get("BIND") or os.environ.get("WEB_BIND") or "").split(",") if b.strip()]
    hosts = [b.rsplit(":", 1)[0] if not b.startswith("unix:") else "localhost" for b in binds]
    if os.environ.get("FLASK_RUN_HOST"):
        hosts.append(os.environ["FLASK_RUN_HOST"])
    for host in hosts:
        try:
            refuse_dev_key_off_loopback(app.config["SECRET_KEY"], host)
        except DevKeyRefused as exc:
            raise ConfigError(str(exc)) from None
    if app.config["APP_ENV"] not in ("development", "production", "testing"):
        raise ConfigError(f"APP_ENV: unknown mode {app.config['APP_ENV']!r} (development, production or testing)")


def _instance_secret_key(app: Flask) -> str:
    """``instance/secret_key`` (mode 600), written with a random key the first time."""
    path = Path(app.instance_path) / "secret_key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        key = ""
    if len(key) < 32:
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")
    return key


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "han_chot.sqlite3")
    if not app.config["UPLOAD_FOLDER"]:
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    if not app.config["SECRET_KEY"] and app.config["APP_ENV"] != "production":
        # Never in production: _check_config refuses an empty key there.  The test suite gets the
        # fixed development key; anything else a random one, generated once into the instance folder.
        app.config["SECRET_KEY"] = DEV_SECRET_KEY if app.config.get("TESTING") else _instance_secret_key(app)
    try:
        _check_config(app)
    except ConfigError as exc:
        if test_config is not None and test_config.get("RAISE_CONFIG_ERRORS"):
            raise
        print(f"Hạn Chót: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    workflow.init_app(app)
    notifications.init_app(app)
    web.init_app(app)
    cli.register_cli(app)
    return app

"""Configuration (app.py): a bad setting stops start-up with one clear line.

In-process, ``RAISE_CONFIG_ERRORS`` makes ``create_app`` raise ``ConfigError``;
through the ``flask`` command, the person sees exactly one line on stderr,
``Hạn Chót: configuration error: ...``, and the status is 2 (no traceback).
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import ConfigError, create_app

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
PREFIX = "Hạn Chót: configuration error: "


@pytest.fixture
def sqlite_uri(tmp_path) -> str:
    return "sqlite:///" + str(tmp_path / "config.sqlite3")


def make(sqlite_uri: str, tmp_path: Path, **settings):
    config = {"TESTING": True, "RAISE_CONFIG_ERRORS": True, "SQLALCHEMY_DATABASE_URI": sqlite_uri,
              "UPLOAD_FOLDER": str(tmp_path / "uploads")}
    config.update(settings)
    return create_app(config)


# -- in process --------------------------------------------------------------


def test_a_good_configuration_starts(sqlite_uri, tmp_path):
    app = make(sqlite_uri, tmp_path)
    assert str(app.config["TZ"]) == "Asia/Ho_Chi_Minh"
    assert app.config["SECRET_KEY"]


def test_unknown_time_zone(sqlite_uri, tmp_path):
    with pytest.raises(ConfigError, match=r"^TIMEZONE: unknown time zone 'Mars/Olympus'"):
        make(sqlite_uri, tmp_path, TIMEZONE="Mars/Olympus")


@pytest.mark.parametrize("uri", ["not a url::", "://nowhere", "postgresql://:::bad", "postgresql://u@host:port/db"])
def test_malformed_database_url(sqlite_uri, tmp_path, uri):
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: malformed database URL"):
        make(sqlite_uri, tmp_path, SQLALCHEMY_DATABASE_URI=uri)


@pytest.mark.parametrize("uri, backend", [("mysql://x", "mysql"), ("oracle://u@h/db", "oracle")])
def test_unsupported_database(sqlite_uri, tmp_path, uri, backend):
    with pytest.raises(ConfigError, match=rf"^DATABASE_URL: unsupported database '{backend}'"):
        make(sqlite_uri, tmp_path, SQLALCHEMY_DATABASE_URI=uri)


def test_unknown_database_driver(sqlite_uri, tmp_path):
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: unknown or uninstalled database driver"):
        make(sqlite_uri, tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+nodriver://u@h/db")


def test_plain_postgresql_url_uses_psycopg3(sqlite_uri, tmp_path):
    app = make(sqlite_uri, tmp_path, SQLALCHEMY_DATABASE_URI="postgresql://u:p%40ss@db.example:5433/han_chot")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p%40ss@db.example:5433/han_chot"


def test_production_needs_a_secret_key(sqlite_uri, tmp_path):
    with pytest.raises(ConfigError, match=r"^SECRET_KEY: must be set when APP_ENV=production"):
        make(sqlite_uri, tmp_path, APP_ENV="production", SECRET_KEY="")


def test_production_with_a_secret_key_starts(sqlite_uri, tmp_path):
    app = make(sqlite_uri, tmp_path, APP_ENV="production", SECRET_KEY="s3cr3t-for-tests")
    assert app.config["SECRET_KEY"] == "s3cr3t-for-tests"


def test_development_gets_a_default_secret_key(sqlite_uri, tmp_path):
    assert make(sqlite_uri, tmp_path, APP_ENV="development", SECRET_KEY="").config["SECRET_KEY"]


def test_unknown_app_env(sqlite_uri, tmp_path):
    with pytest.raises(ConfigError, match=r"^APP_ENV: unknown mode 'staging'"):
        make(sqlite_uri, tmp_path, APP_ENV="staging")


def test_without_raise_config_errors_it_prints_one_line_and_exits_2(sqlite_uri, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_uri, "TIMEZONE": "Mars/Olympus"})
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        PREFIX + "TIMEZONE: unknown time zone 'Mars/Olympus' (e.g. Asia/Ho_Chi_Minh)"]


# -- through the flask command -----------------------------------------------


def flask(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ("TIMEZONE", "DATABASE_URL", "APP_ENV", "SECRET_KEY", "FLASK_APP", "FLASK_DEBUG")}
    base.update({"FLASK_APP": "app", "PYTHONIOENCODING": "utf-8",
                 "DATABASE_URL": "sqlite:///" + str(tmp_path / "cli.sqlite3"),
                 "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    base.update(env)
    return subprocess.run([str(FLASK), *args], cwd=ROOT, env=base, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def test_the_flask_command_is_there():
    assert FLASK.exists(), f"no flask next to {sys.executable}"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ({"DATABASE_URL": "postgresql://:::bad"}, "DATABASE_URL: malformed database URL 'postgresql://:::bad'"),
        ({"DATABASE_URL": "not a url::"}, "DATABASE_URL: malformed database URL 'not a url::'"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: unsupported database 'mysql'"),
        ({"DATABASE_URL": "postgresql+nodriver://u@h/db"}, "DATABASE_URL: unknown or uninstalled database driver"),
        ({"APP_ENV": "production"}, "SECRET_KEY: must be set when APP_ENV=production"),
        ({"APP_ENV": "production", "SECRET_KEY": ""}, "SECRET_KEY: must be set when APP_ENV=production"),
        ({"APP_ENV": "staging"}, "APP_ENV: unknown mode 'staging'"),
    ],
    ids=["timezone", "bad-port", "not-a-url", "mysql", "unknown-driver", "production-no-key",
         "production-empty-key", "unknown-app-env"],
)
def test_flask_command_refuses_a_bad_setting_with_one_line(tmp_path, env, message):
    result = flask(tmp_path, "workdays", "is-working", "2019-05-04", **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(PREFIX + message), lines[0]


def test_flask_command_starts_with_a_good_production_setting(tmp_path):
    result = flask(tmp_path, "workdays", "--help", APP_ENV="production", SECRET_KEY="s3cr3t-for-tests")
    assert result.returncode == 0, result.stderr
    assert "is-working" in result.stdout


# -- what production installs ---------------------------------------------------

TEST_TOOLS = {"pytest", "pytest-xdist", "playwright", "schemathesis", "hypothesis", "time-machine", "aiosmtpd", "ruff", "mypy",
              "import-linter"}


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>~!\[; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_production_requirements_hold_no_test_tool():
    prod = _requirement_names(ROOT / "requirements.txt")
    assert not prod & TEST_TOOLS, f"test tools in requirements.txt: {sorted(prod & TEST_TOOLS)}"
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev
    assert TEST_TOOLS <= _requirement_names(ROOT / "requirements-dev.txt")


def test_every_package_the_app_imports_is_a_production_requirement():
    """A module imported by the app (not the tests) comes from a package that requirements.txt installs."""
    prod = _requirement_names(ROOT / "requirements.txt")
    providers = importlib.metadata.packages_distributions()
    own = {"app", "devkey", "workflow", "notifications", "web", "cli"}
    missing = {}
    files = [ROOT / "app.py", ROOT / "devkey.py", *[p for pkg in own - {"app", "devkey"} for p in (ROOT / pkg).rglob("*.py")]]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                if top in own or top in sys.stdlib_module_names:
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [])}
                if not dists & prod:
                    missing.setdefault(top, str(path.relative_to(ROOT)))
    assert not missing, f"imported but not in requirements.txt: {missing}"
@pytest.mark.parametrize("environ, expected", [
    ({}, "http://127.0.0.1:5000"),
    ({"PORT": "5301"}, "http://127.0.0.1:5301"),
    ({"HOST": "192.168.1.20", "PORT": "8080"}, "http://192.168.1.20:8080"),
    ({"HOST": "0.0.0.0", "PORT": "5301"}, "http://127.0.0.1:5301"),
    ({"HOST": "::1", "PORT": "5301"}, "http://[::1]:5301"),
    ({"HOST": "0.0.0.0", "PORT": "5301", "APP_URL": "https://hanchot.example.gov.vn/"},
     "https://hanchot.example.gov.vn"),
])
def test_app_url_follows_host_and_port_unless_set(environ, expected):
    """Links in mail go where `make run` listens (PORT=5301 gave links to port 5000)."""
    from notifications.links import app_url_from

    assert app_url_from(environ) == expected


def test_make_run_passes_the_derived_app_url(tmp_path):
    """`make run PORT=5301`: the recipe's own command line, run with `flask` replaced by printenv,
    gives links to port 5301 (and an APP_URL set by hand wins)."""
    venv = tmp_path / "venv"
    out = subprocess.run(["make", "-n", "run", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True).stdout
    recipe = out.replace("\\\n", " ")
    line = next(ln for ln in recipe.splitlines() if f"{venv}/bin/flask serve" in ln)
    command = line.replace(f"{venv}/bin/flask serve", "printenv APP_URL #")
    base = {"PATH": os.environ["PATH"]}
    run = lambda env: subprocess.run(["sh", "-c", command], capture_output=True, text=True,  # noqa: E731
                                     env=base | env).stdout.strip()
    assert run({"PORT": "5301"}) == "http://127.0.0.1:5301"
    assert run({"HOST": "10.0.0.5", "PORT": "8000"}) == "http://10.0.0.5:8000"
    assert run({}) == "http://127.0.0.1:5000"
    assert run({"PORT": "5301", "APP_URL": "https://hanchot.example.gov.vn"}) == "https://hanchot.example.gov.vn"

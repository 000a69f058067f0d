"""The migrations (migrations/): one head, the whole schema, safe batch mode.

The first tests look at the ``app`` fixture's database (built by the real
migrations; SQLite and, with TEST_DATABASE_URL, PostgreSQL).  The batch-mode
test builds its own SQLite file: batch mode is how Alembic alters a table on
SQLite (copy, drop, rename), and dropping a parent table with foreign keys on
would delete its children through ON DELETE CASCADE; migrations/env.py turns
foreign keys off while migrating to prevent that.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from app import create_app
from workflow.db import db

# migrations/env.py (the stock Flask-Migrate template) calls the deprecated
# ``db.get_engine()``; pytest.ini turns that warning into an error.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"


def script_directory(directory: Path = MIGRATIONS) -> ScriptDirectory:
    config = AlembicConfig(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    return ScriptDirectory.from_config(config)


def single_head(directory: Path = MIGRATIONS) -> str:
    heads = script_directory(directory).get_heads()
    assert len(heads) == 1, f"migrations must have one head, found {heads}; merge them (flask db merge)"
    return heads[0]


# -- the app fixture's database ----------------------------------------------


def test_versions_have_a_single_head():
    script = script_directory()
    head = single_head()
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    revisions = list(script.walk_revisions())
    assert len(revisions) == len(files), (files, [r.revision for r in revisions])
    # A straight line from the base to the head.
    assert [r.revision for r in revisions][0] == head
    assert sum(1 for r in revisions if r.down_revision is None) == 1


def test_database_is_at_the_head(app):
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    assert current == (single_head(),)


def test_every_model_table_exists(app):
    inspector = inspect(db.engine)
    tables = set(inspector.get_table_names())
    expected = set(db.metadata.tables)
    assert expected, "no models registered"
    assert expected <= tables, f"missing tables: {sorted(expected - tables)}"
    assert "alembic_version" in tables


def test_every_model_column_exists(app):
    """A model edited without its migration shows here (``flask db migrate``)."""
    inspector = inspect(db.engine)
    drift = {}
    for name, table in db.metadata.tables.items():
        migrated = {c["name"] for c in inspector.get_columns(name)}
        modelled = set(table.columns.keys())
        if migrated != modelled:
            drift[name] = {"not migrated": sorted(modelled - migrated), "not modelled": sorted(migrated - modelled)}
    assert not drift, f"models and migrations differ; add a migration (flask db migrate): {drift}"


def test_sqlite_connections_enforce_foreign_keys(app):
    with db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("PRAGMA foreign_keys is SQLite's; PostgreSQL always enforces foreign keys")
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# -- batch mode on SQLite keeps child rows -----------------------------------

THROWAWAY = '''"""throw-away: batch-alter campaign (tests/test_migrations.py)

Revision ID: {revision}
Revises: {down_revision}
"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
    # recreate="always": SQLite adds a column in place, and only a rebuild
    # (copy, DROP TABLE campaign, rename) exposes the cascade.
    with op.batch_alter_table("campaign", recreate="always") as b:
        b.add_column(sa.Column("x", sa.Integer()))


def downgrade():
    with op.batch_alter_table("campaign", recreate="always") as b:
        b.drop_column("x")
'''


def seed_campaign_with_milestone() -> None:
    """An organizer, a campaign and its milestone, in plain SQL.

    Plain SQL over the columns of the migrated schema, so the test depends on
    the migrations alone, not on models being edited ahead of their migration.
    """
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO organizer (id, code, name, province, email, timezone) "
                          "VALUES (1, 'TGG', 'Sở TT&TT Tiền Giang', 'Tiền Giang', '', 'Asia/Ho_Chi_Minh')"))
        conn.execute(text(
            "INSERT INTO campaign (id, organizer_id, code, title, year, document_number, deadline, "
            "grace_working_days, state, cancel_reason, tiers, required_documents, commune_nomination, created_at) "
            "VALUES (1, 1, 'TGG-2019', 'Đánh giá CNTT 2019', 2019, '', '2019-11-01', 0, 'draft', '', '[]', '{}', 0, "
            "'2019-10-01 00:00:00')"))
        conn.execute(text("INSERT INTO milestone (campaign_id, kind, end_date) "
                          "VALUES (1, 'preliminary_review', '2019-11-15')"))


def rows(uri: str, sql: str) -> list[tuple]:
    """Read with a plain sqlite3 connection, outside SQLAlchemy and its pool."""
    conn = sqlite3.connect(uri.removeprefix("sqlite:///"))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_batch_migration_keeps_cascading_child_rows(tmp_path, backend):
    if backend == "postgresql":
        pytest.skip("batch mode rebuilds tables only on SQLite; PostgreSQL alters them in place, "
                    "so there is no drop that could cascade (the SQLite case runs on its own file)")
    from flask_migrate import downgrade, upgrade

    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    head = single_head(directory)
    uri = "sqlite:///" + str(tmp_path / "batch.sqlite3")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        try:
            upgrade(directory=str(directory))
            seed_campaign_with_milestone()
            assert rows(uri, "SELECT kind FROM milestone") == [("preliminary_review",)]

            (directory / "versions" / "zz_batch_campaign.py").write_text(
                THROWAWAY.format(revision="ffbatch0cascade", down_revision=head), encoding="utf-8")
            assert single_head(directory) == "ffbatch0cascade"
            upgrade(directory=str(directory))

            assert rows(uri, "SELECT version_num FROM alembic_version") == [("ffbatch0cascade",)]
            assert "x" in {c["name"] for c in inspect(db.engine).get_columns("campaign")}
            assert rows(uri, "SELECT kind FROM milestone") == [("preliminary_review",)]
            assert rows(uri, "SELECT code FROM campaign") == [("TGG-2019",)]
            # The foreign key to the rebuilt table still holds.
            assert rows(uri, "PRAGMA foreign_key_check") == []
            # Normal connections enforce foreign keys again afterwards.
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

            downgrade(directory=str(directory), revision=head)
            assert rows(uri, "SELECT version_num FROM alembic_version") == [(head,)]
            assert "x" not in {c["name"] for c in inspect(db.engine).get_columns("campaign")}
            assert rows(uri, "SELECT kind FROM milestone") == [("preliminary_review",)]
            assert rows(uri, "PRAGMA foreign_key_check") == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_the_hazard_is_real_without_env_py(tmp_path):
    """Control: the same batch operation with foreign keys on deletes the milestone.

    This is what migrations/env.py prevents; if it stopped being true (a newer
    Alembic not dropping the table), the test above would prove nothing.
    """
    from flask_migrate import upgrade

    uri = "sqlite:///" + str(tmp_path / "hazard.sqlite3")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        try:
            upgrade(directory=str(MIGRATIONS))
            seed_campaign_with_milestone()
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                ops = Operations(MigrationContext.configure(conn))
                with ops.batch_alter_table("campaign", recreate="always") as b:
                    b.add_column(sa.Column("x", sa.Integer()))
                conn.commit()
            assert rows(uri, "SELECT count(*) FROM campaign") == [(1,)]
            assert rows(uri, "SELECT count(*) FROM milestone") == [(0,)]
        finally:
            db.session.remove()
            db.engine.dispose()

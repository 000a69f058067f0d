"""standing tally: a campaign's units per cell, kept by triggers (workflow.models.StandingTally)

Every insert, update and delete of a participation appends signed rows (+1 for its new cell, −1 for its
old one: group, recorded status, silent, days late, has a parent); a unit whose group or parent changes
moves its rows; a deleted campaign's rows go with it.  The dashboard then counts a 50,000-unit campaign
by summing a few dozen rows instead of grouping 50,000 participations joined to their units.  The rows
of today's participations are written here; the tick folds each campaign's rows back to one per cell.
And indexes of the score that counts (for the ranks) and of the days late (for the late order's pieces).

SQLite: Alembic's batch mode recreates a table to alter it and so drops its triggers; a later migration
that alters participation, unit or campaign in batch mode must create them again (``create_triggers``'s
statements; migrations/env.py renames the copy the legacy way, which does not trip over the triggers of
the other tables).

Revision ID: f4b2d6e81a37
Revises: e3a7c5d90b14
Create Date: 2026-12-04 18:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f4b2d6e81a37'
down_revision = 'e3a7c5d90b14'
branch_labels = None
depends_on = None

COLUMNS = "campaign_id, grp, status, silent, late_days, parented, n"


def _cell(p: str, unit: str, n: str) -> str:
    """The select list of one tally row for participation ``p`` (OLD, NEW or a table alias) of ``unit``."""
    return (f"{p}.campaign_id, {unit}.\"group\", {p}.status, "
            f"({p}.status = 'not_submitted' AND coalesce({p}.reinstated_reason, '') = ''), "
            f"{p}.late_working_days, ({unit}.parent_id IS NOT NULL), {n}")


#: The participation columns a cell is made of: an update of none of them writes nothing.
CELL_COLUMNS = ("status", "reinstated_reason", "late_working_days", "unit_id", "campaign_id")
CHANGED_SQLITE = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in CELL_COLUMNS)
UNIT_CHANGED_SQLITE = 'OLD."group" IS NOT NEW."group" OR (OLD.parent_id IS NULL) IS NOT (NEW.parent_id IS NULL)'


def _grouped(rows: str, sign: str, join_campaign: bool = False) -> str:
    """The cells of the participations ``rows`` (a transition table), counted with ``sign``."""
    campaign = " JOIN campaign c ON c.id = p.campaign_id" if join_campaign else ""
    return (f"SELECT {_cell('p', 'u', f'{sign}count(*)')} FROM {rows} p JOIN unit u ON u.id = p.unit_id{campaign} "
            "GROUP BY 1, 2, 3, 4, 5, 6")


#: The advisory-lock class of the tally's interlock (two-key form: apart from the scheduler's one-key lock).
LOCK_CLASS = 7412


def _units_held(rows: str) -> str:
    """Wait for any uncommitted change of a unit's group or parent in the organizers of the participations
    ``rows``, and keep such changes out until this transaction ends: a shared advisory lock per organizer
    (in memory: no row of ``unit`` is written), which the unit trigger takes exclusively.

    A participation's cell takes its group and parent from its unit, and a unit's cells come from its
    participations; without this, an upload and a change of its unit's group committed at the same time
    would each count the other's old state, and the tally would be wrong for good.  With it, whichever
    reads second waits for the first to commit, and its next statement (a fresh snapshot in READ
    COMMITTED) sees the first's result (tests/test_standing_tally.py, two connections, both orders).
    (``FOR SHARE`` on the units did the same but wrote every locked unit row: the tick's exclusion of
    200,000 participations took 4–10 s longer.)"""
    return (f"PERFORM pg_advisory_xact_lock_shared({LOCK_CLASS}, o) FROM (SELECT DISTINCT u.organizer_id AS o "
            f"FROM unit u WHERE u.id IN (SELECT unit_id FROM {rows})) AS orgs ORDER BY o;")


def _pg_statements() -> list[str]:
    """PostgreSQL: statement-level triggers over transition tables, so that one statement changing many
    participations (the tick's exclusion at grace end) appends a row per cell it changed, not two per
    participation (row-level triggers made the exclusion of 19,866 participations 312 → 1,116 ms).

    Each statement counts the rows it changed once: one statement that changes both a participation and
    its unit (a writable CTE) would count the unit's change twice; the application never writes so."""
    cells = "campaign_id, grp, status, silent, late_days, parented"
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in CELL_COLUMNS)
    return [
        f"""CREATE FUNCTION standing_tally_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_units_held('new_rows')}
            INSERT INTO standing_tally ({COLUMNS}) {_grouped('new_rows', '')};
            RETURN NULL;
        END $$""",
        # (Joined to campaign: the participations a deleted campaign takes with it write nothing.)
        f"""CREATE FUNCTION standing_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_units_held('old_rows')}
            INSERT INTO standing_tally ({COLUMNS}) {_grouped('old_rows', '-', join_campaign=True)};
            RETURN NULL;
        END $$""",
        # (Nothing to do, and no lock, when no row's cell changed: scores, reasons, dates.)
        f"""CREATE FUNCTION standing_tally_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (id) WHERE {changed}) THEN
                RETURN NULL;
            END IF;
            {_units_held('(SELECT unit_id FROM old_rows UNION SELECT unit_id FROM new_rows) AS changed')}
            INSERT INTO standing_tally ({COLUMNS})
            SELECT {cells}, sum(n) FROM ({_grouped('old_rows', '-')} UNION ALL {_grouped('new_rows', '')})
                AS d ({cells}, n)
            GROUP BY {cells} HAVING sum(n) <> 0;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER standing_tally_insert AFTER INSERT ON participation REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION standing_tally_inserted()",
        "CREATE TRIGGER standing_tally_delete AFTER DELETE ON participation REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION standing_tally_deleted()",
        "CREATE TRIGGER standing_tally_update AFTER UPDATE ON participation "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION standing_tally_updated()",
        f"""CREATE FUNCTION standing_tally_unit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM old_units o JOIN new_units n USING (id) WHERE o."group" IS DISTINCT
                           FROM n."group" OR (o.parent_id IS NULL) <> (n.parent_id IS NULL)) THEN
                RETURN NULL;  -- names, addresses: no cell changed
            END IF;
            PERFORM pg_advisory_xact_lock({LOCK_CLASS}, o) FROM (SELECT DISTINCT organizer_id AS o FROM new_units
                UNION SELECT organizer_id FROM old_units) AS orgs ORDER BY o;
            INSERT INTO standing_tally ({COLUMNS})
            SELECT {cells}, sum(n) FROM (
                SELECT {_cell('p', 'u', '-count(*)')} FROM old_units u JOIN participation p ON p.unit_id = u.id
                GROUP BY 1, 2, 3, 4, 5, 6
                UNION ALL
                SELECT {_cell('p', 'u', 'count(*)')} FROM new_units u JOIN participation p ON p.unit_id = u.id
                GROUP BY 1, 2, 3, 4, 5, 6) AS d ({cells}, n)
            GROUP BY {cells} HAVING sum(n) <> 0;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER standing_tally_unit AFTER UPDATE ON unit "
        "REFERENCING OLD TABLE AS old_units NEW TABLE AS new_units FOR EACH STATEMENT "
        "EXECUTE FUNCTION standing_tally_unit()",
        """CREATE FUNCTION standing_tally_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM standing_tally WHERE campaign_id = OLD.id;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER standing_tally_campaign AFTER DELETE ON campaign "
        "FOR EACH ROW EXECUTE FUNCTION standing_tally_campaign()",
    ]


def _sqlite_statements() -> list[str]:
    return [
        f"""CREATE TRIGGER standing_tally_insert AFTER INSERT ON participation BEGIN
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('NEW', 'u', '1')} FROM unit u WHERE u.id = NEW.unit_id;
        END""",
        # (No check that the campaign still exists, unlike PostgreSQL's: SQLite runs the campaign's trigger
        # after the cascade has deleted its participations, so the rows written here go with it.)
        f"""CREATE TRIGGER standing_tally_delete AFTER DELETE ON participation BEGIN
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('OLD', 'u', '-1')} FROM unit u WHERE u.id = OLD.unit_id;
        END""",
        f"""CREATE TRIGGER standing_tally_update AFTER UPDATE ON participation WHEN {CHANGED_SQLITE} BEGIN
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('OLD', 'u', '-1')} FROM unit u WHERE u.id = OLD.unit_id;
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('NEW', 'u', '1')} FROM unit u WHERE u.id = NEW.unit_id;
        END""",
        f"""CREATE TRIGGER standing_tally_unit AFTER UPDATE ON unit WHEN {UNIT_CHANGED_SQLITE} BEGIN
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('p', 'OLD', '-1')} FROM participation p WHERE p.unit_id = OLD.id;
            INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('p', 'NEW', '1')} FROM participation p WHERE p.unit_id = NEW.id;
        END""",
        """CREATE TRIGGER standing_tally_campaign AFTER DELETE ON campaign BEGIN
            DELETE FROM standing_tally WHERE campaign_id = OLD.id;
        END""",
    ]


def create_triggers() -> None:
    for statement in (_pg_statements() if op.get_bind().dialect.name == "postgresql" else _sqlite_statements()):
        op.execute(statement)


def upgrade():
    op.create_table(
        'standing_tally',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('grp', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('silent', sa.Boolean(), nullable=False),
        sa.Column('late_days', sa.Integer(), nullable=False),
        sa.Column('parented', sa.Boolean(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_standing_tally')),
    )
    op.create_index(op.f('ix_standing_tally_campaign_id'), 'standing_tally', ['campaign_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # No write of a web process still serving may fall between the rows counted here and the triggers.
        op.execute("LOCK TABLE participation, unit, campaign IN SHARE ROW EXCLUSIVE MODE")
    # Today's participations, one row per cell.
    op.execute(f"INSERT INTO standing_tally ({COLUMNS}) SELECT {_cell('p', 'u', 'count(*)')} "
               "FROM participation p JOIN unit u ON u.id = p.unit_id GROUP BY 1, 2, 3, 4, 5, 6")
    create_triggers()
    # The score that counts, indexed (and so with statistics of its own): ranking the units of a campaign
    # that has no score yet reads the index, not every participation (50,000 units: 9.9 → 0.03 ms).
    op.execute("CREATE INDEX ix_participation_campaign_score ON participation "
               "(campaign_id, (coalesce(verified_score, self_score)))")
    # The days late, for a piece of the late order (dashboard._cell_pieces): the 100 units 3 days late of
    # a 50,000-unit campaign by the index, not by walking every unit (104 ms).
    op.create_index('ix_participation_campaign_late', 'participation', ['campaign_id', 'late_working_days'])


def downgrade():
    op.drop_index('ix_participation_campaign_late', table_name='participation')
    op.execute("DROP INDEX ix_participation_campaign_score")
    for trigger, table in (("standing_tally_insert", "participation"), ("standing_tally_delete", "participation"),
                           ("standing_tally_update", "participation"), ("standing_tally_unit", "unit"),
                           ("standing_tally_campaign", "campaign")):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        else:
            op.execute(f"DROP TRIGGER {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        for function in ("standing_tally_inserted", "standing_tally_deleted", "standing_tally_updated",
                         "standing_tally_unit", "standing_tally_campaign"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index(op.f('ix_standing_tally_campaign_id'), table_name='standing_tally')
    op.drop_table('standing_tally')

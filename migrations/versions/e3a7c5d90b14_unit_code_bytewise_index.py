"""units of an organizer in code order as the pages sort them (PostgreSQL: COLLATE "C")

The dashboard's lists (the exclusion preview, the action forms' suggestions) are "the first N units
of this campaign in code order": with this index PostgreSQL walks the organizer's units in that order
and stops after N instead of sorting every participation that matches (the 100-unit exclusion preview
of a 50,000-unit campaign: 32 → 0.8 ms, EXPLAIN ANALYZE).  SQLite orders codes bytewise by default and
has the unique (organizer_id, code) index for it.

Revision ID: e3a7c5d90b14
Revises: d5f2a8c61e94
Create Date: 2026-12-03 14:30:00

"""
from alembic import op


revision = 'e3a7c5d90b14'
down_revision = 'd5f2a8c61e94'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_unit_organizer_code_bytewise ON unit (organizer_id, code COLLATE "C")')


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_unit_organizer_code_bytewise")

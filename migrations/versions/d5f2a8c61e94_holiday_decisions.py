"""holiday decisions: an unconfirmed day off confirmed or rejected with its document

Revision ID: d5f2a8c61e94
Revises: d5f1a8c3e702
Create Date: 2026-12-02 05:40:00

"""
from alembic import op
import sqlalchemy as sa

import workflow.db


revision = 'd5f2a8c61e94'
down_revision = 'd5f1a8c3e702'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holiday_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organizer_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('doc_number', sa.String(length=128), nullable=False),
    sa.Column('doc_date', sa.Date(), nullable=False),
    sa.Column('doc_issuer', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('decided_by', sa.String(length=255), nullable=False),
    sa.Column('decided_at', workflow.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("decision IN ('confirmed', 'rejected')", name=op.f('ck_holiday_decision_decision_known')),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizer.id'], name=op.f('fk_holiday_decision_organizer_id_organizer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday_decision')),
    sa.UniqueConstraint('organizer_id', 'day', name=op.f('uq_holiday_decision_organizer_id_day')),
    )
    op.create_index(op.f('ix_holiday_decision_day'), 'holiday_decision', ['day'], unique=False)
    op.create_index(op.f('ix_holiday_decision_organizer_id'), 'holiday_decision', ['organizer_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_holiday_decision_organizer_id'), table_name='holiday_decision')
    op.drop_index(op.f('ix_holiday_decision_day'), table_name='holiday_decision')
    op.drop_table('holiday_decision')

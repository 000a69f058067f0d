"""tick failures per campaign; a campaign's score maximum and bonus; corrections keep on-time standing

Revision ID: b7d41e09c2a5
Revises: 89c23622a034
Create Date: 2026-12-02 01:30:00

"""
from alembic import op
import sqlalchemy as sa

import workflow.db


# revision identifiers, used by Alembic.
revision = 'b7d41e09c2a5'
down_revision = '89c23622a034'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tick_failure',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('organizer_id', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('first_seen', workflow.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen', workflow.db.UTCDateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_tick_failure_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizer.id'], name=op.f('fk_tick_failure_organizer_id_organizer')),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_tick_failure'))
    )
    with op.batch_alter_table('tick_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tick_failure_organizer_id'), ['organizer_id'], unique=False)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_maximum', sa.Numeric(precision=8, scale=2), nullable=False, server_default='100'))
        batch_op.add_column(sa.Column('score_bonus', sa.Numeric(precision=8, scale=2), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('correction_keeps_on_time', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected_at', workflow.db.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.drop_column('corrected_at')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('correction_keeps_on_time')
        batch_op.drop_column('score_bonus')
        batch_op.drop_column('score_maximum')
    with op.batch_alter_table('tick_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tick_failure_organizer_id'))
    op.drop_table('tick_failure')

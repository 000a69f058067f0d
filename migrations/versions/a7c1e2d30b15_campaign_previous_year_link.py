"""campaign: link to the year before (clone)

Revision ID: a7c1e2d30b15
Revises: b7e4c1a9d2f3
Create Date: 2026-12-02 01:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c1e2d30b15'
down_revision = 'b7e4c1a9d2f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_campaign_previous_id'), ['previous_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_campaign_previous_id_campaign'), 'campaign', ['previous_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campaign_previous_id_campaign'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_campaign_previous_id'))
        batch_op.drop_column('previous_id')

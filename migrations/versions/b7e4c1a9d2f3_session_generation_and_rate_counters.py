"""session generation per user (server-side sign-out) and atomic rate-limit counters

Revision ID: b7e4c1a9d2f3
Revises: 9c1efa2b235b
Create Date: 2026-12-02 01:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e4c1a9d2f3'
down_revision = '9c1efa2b235b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    op.create_table('rate_counter',
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counter'))
    )


def downgrade():
    op.drop_table('rate_counter')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_generation')

"""milestone documents: the letter or decision that set or moved a milestone

Revision ID: c8e4a2b91d37
Revises: b3d9f1a47c20
Create Date: 2026-12-02 02:05:00

"""
from alembic import op
import sqlalchemy as sa

import workflow.db


revision = 'c8e4a2b91d37'
down_revision = 'b3d9f1a47c20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('milestone_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('recorded_by', sa.String(length=255), nullable=False),
    sa.Column('recorded_at', workflow.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_milestone_document_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_document'))
    )
    op.create_index('ix_milestone_document_campaign_kind', 'milestone_document', ['campaign_id', 'kind'], unique=False)


def downgrade():
    op.drop_index('ix_milestone_document_campaign_kind', table_name='milestone_document')
    op.drop_table('milestone_document')

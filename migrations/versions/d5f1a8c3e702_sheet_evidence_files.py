"""sheet evidence files: a file attached to one criterion of a unit's sheet

Revision ID: d5f1a8c3e702
Revises: c8e4a2b91d37
Create Date: 2026-12-02 05:40:00

"""
from alembic import op
import sqlalchemy as sa

import workflow.db


revision = 'd5f1a8c3e702'
down_revision = 'c8e4a2b91d37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sheet_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('uploaded_at', workflow.db.UTCDateTime(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['criterion_id'], ['criterion.id'], name=op.f('fk_sheet_file_criterion_id_criterion'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sheet_id'], ['sheet.id'], name=op.f('fk_sheet_file_sheet_id_sheet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sheet_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_sheet_file_stored_name'))
    )
    op.create_index(op.f('ix_sheet_file_criterion_id'), 'sheet_file', ['criterion_id'], unique=False)
    op.create_index('ix_sheet_file_sheet_criterion', 'sheet_file', ['sheet_id', 'criterion_id'], unique=False)


def downgrade():
    op.drop_index('ix_sheet_file_sheet_criterion', table_name='sheet_file')
    op.drop_index(op.f('ix_sheet_file_criterion_id'), table_name='sheet_file')
    op.drop_table('sheet_file')

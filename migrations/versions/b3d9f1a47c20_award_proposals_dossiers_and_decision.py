"""award step: proposals, award dossiers (submission.kind), the People's Committee decision

Revision ID: b3d9f1a47c20
Revises: a7c1e2d30b15
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa

import workflow.db


revision = 'b3d9f1a47c20'
down_revision = 'a7c1e2d30b15'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='evaluation'))
        batch_op.drop_constraint('uq_submission_participation_id_version', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_submission_participation_id_kind_version'),
                                          ['participation_id', 'kind', 'version'])
    op.create_table('award_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('participation_id', sa.Integer(), nullable=False),
    sa.Column('from_ranking', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proposed_by', sa.String(length=255), nullable=False),
    sa.Column('proposed_at', workflow.db.UTCDateTime(), nullable=False),
    sa.Column('notified_at', workflow.db.UTCDateTime(), nullable=True),
    sa.Column('dossier_status', sa.String(length=32), nullable=False),
    sa.Column('received_at', workflow.db.UTCDateTime(), nullable=True),
    sa.Column('late_working_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_award_proposal_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participation_id'], ['participation.id'], name=op.f('fk_award_proposal_participation_id_participation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_award_proposal')),
    sa.UniqueConstraint('campaign_id', 'participation_id', name=op.f('uq_award_proposal_campaign_id_participation_id'))
    )
    op.create_index(op.f('ix_award_proposal_campaign_id'), 'award_proposal', ['campaign_id'], unique=False)
    op.create_table('campaign_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('signer', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('recorded_by', sa.String(length=255), nullable=False),
    sa.Column('recorded_at', workflow.db.UTCDateTime(), nullable=False),
    sa.Column('published_at', workflow.db.UTCDateTime(), nullable=True),
    sa.Column('published_results', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_decision_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_decision')),
    sa.UniqueConstraint('campaign_id', name=op.f('uq_campaign_decision_campaign_id'))
    )


def downgrade():
    op.drop_table('campaign_decision')
    op.drop_index(op.f('ix_award_proposal_campaign_id'), table_name='award_proposal')
    op.drop_table('award_proposal')
    op.execute("DELETE FROM submission WHERE kind <> 'evaluation'")
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint('uq_submission_participation_id_kind_version', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_submission_participation_id_version'),
                                          ['participation_id', 'version'])
        batch_op.drop_column('kind')

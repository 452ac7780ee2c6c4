"""Who holds each outbox step and how often it was claimed: a step claimed before without a recorded outcome
may have reached the vendor, so its next run looks before it acts; a restarted replica takes back its own steps.

Revision ID: 0005_exactly_claims
Revises: 0004_web_reviews
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_outbox_claims"
down_revision = "0007_incident_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claims", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("claims")

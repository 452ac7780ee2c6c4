"""Post-incident reviews (summary, root cause, impact, prevention, owner), one per incident.

Revision ID: 0003_web_reviews
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0004_web_reviews"
down_revision = "0003_pagerduty_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_reviews",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("prevention", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_reviews")

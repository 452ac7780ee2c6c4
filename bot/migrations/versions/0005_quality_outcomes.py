"""Alert quality: each incident's outcome, and one claim row per ISO week for the weekly report.

Revision ID: 0003_quality_outcomes
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0005_quality_outcomes"
down_revision = "0004_web_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_outcomes",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("by", sa.String(64), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "weekly_report_claims",
        sa.Column("week", sa.String(10), primary_key=True),
        sa.Column("claimed_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("weekly_report_claims")
    op.drop_table("incident_outcomes")

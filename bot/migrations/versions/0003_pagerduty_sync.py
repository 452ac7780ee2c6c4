"""PagerDuty both ways: the PagerDuty incident of each incident, and the webhook events applied.

Revision ID: 0003_pagerduty_sync
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0003_pagerduty_sync"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("pagerduty_url", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("pagerduty_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pagerduty_changed_at", UtcDateTime(), nullable=True))
        batch.create_index("ix_incidents_pagerduty_id", ["pagerduty_id"])
    op.create_table(
        "pagerduty_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pagerduty_events")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_pagerduty_id")
        batch.drop_column("pagerduty_changed_at")
        batch.drop_column("pagerduty_id")
        batch.drop_column("pagerduty_url")

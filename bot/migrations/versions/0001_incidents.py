"""Incidents, their timeline, and the SNS deliveries seen (alarm intake).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("alarm_name", sa.String(255), nullable=False),
        sa.Column("alarm_arn", sa.String(1024), nullable=False),
        sa.Column("open_key", sa.String(1024), nullable=True, unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("last_transition_at", UtcDateTime(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("channel_name", sa.String(80), nullable=True),
        sa.Column("alarm", sa.JSON(), nullable=False),
    )
    op.create_index("ix_incidents_alarm_arn", "incidents", ["alarm_arn"])
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_timeline_entries_incident_id", "timeline_entries", ["incident_id"])
    op.create_table(
        "deliveries",
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("topic_arn", sa.String(256), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("alarm_name", sa.String(255), nullable=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("timeline_entries")
    op.drop_table("incidents")

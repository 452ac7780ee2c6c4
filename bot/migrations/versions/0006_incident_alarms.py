"""Correlated alarms (every alarm of an incident, one unresolved incident per alarm) and alarm storms.

Revision ID: correlate_incident_alarms
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0006_incident_alarms"
down_revision = "0005_quality_outcomes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_alarms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alarm_arn", sa.String(1024), nullable=False),
        sa.Column("alarm_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("open_key", sa.String(1024), nullable=True, unique=True),
    )
    op.create_index("ix_incident_alarms_incident_id", "incident_alarms", ["incident_id"])
    op.create_index("ix_incident_alarms_alarm_arn", "incident_alarms", ["alarm_arn"])
    op.create_index("ix_incident_alarms_alarm_name", "incident_alarms", ["alarm_name"])
    # Every incident opened by an alarm so far had exactly that one alarm.
    op.execute(
        "INSERT INTO incident_alarms (incident_id, alarm_arn, alarm_name, state, joined_at, changed_at, open_key) "
        "SELECT id, alarm_arn, alarm_name, CASE WHEN status = 'resolved' THEN 'OK' ELSE 'ALARM' END, opened_at, "
        "last_transition_at, open_key FROM incidents WHERE source = 'alarm'"
    )
    op.create_table(
        "storms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("open_key", sa.String(16), nullable=True, unique=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("rendered", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("storms")
    op.drop_table("incident_alarms")

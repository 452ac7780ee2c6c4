"""Messages that follow an incident (their channel and ts, for chat.update), the incident's metric graph, and the
pipeline health colour last announced.

Revision ID: living_incident_messages
Revises: 0004_web_reviews
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from bot.incidents.models import UtcDateTime

revision = "0007_incident_messages"
down_revision = "0006_incident_alarms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("incident_id", "role", "channel", name="uq_incident_messages_role"),
    )
    op.create_index("ix_incident_messages_incident_id", "incident_messages", ["incident_id"])
    op.create_table(
        "incident_graphs",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("slack_file_id", sa.String(32), nullable=True),
    )
    op.create_table(
        "health_state",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("colour", sa.String(16), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("health_state")
    op.drop_table("incident_graphs")
    op.drop_index("ix_incident_messages_incident_id", table_name="incident_messages")
    op.drop_table("incident_messages")

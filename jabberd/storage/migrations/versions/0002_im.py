"""
Instant messaging state (RFC 6121): roster items with their versions,
pending inbound subscription requests, and offline messages (XEP-0160).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PART = 1023
BARE = 2 * PART + 1


def _owner(table):
    return sa.ForeignKeyConstraint(
        ["domain", "username"], ["users.domain", "users.username"],
        name="fk_%s_domain_users" % (table,), ondelete="CASCADE")


def _ownerColumns():
    return [sa.Column("domain", sa.String(PART), nullable=False),
            sa.Column("username", sa.String(PART), nullable=False)]


def upgrade():
    """
    Create the roster, subscription and offline message tables.
    """
    op.create_table(
        "roster_items", *_ownerColumns(),
        sa.Column("contact", sa.String(BARE), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("subscription", sa.String(8), nullable=False),
        sa.Column("ask", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", "contact",
                                name="pk_roster_items"),
        _owner("roster_items"))
    op.create_table(
        "roster_versions", *_ownerColumns(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username",
                                name="pk_roster_versions"),
        _owner("roster_versions"))
    op.create_table(
        "pending_subscriptions", *_ownerColumns(),
        sa.Column("contact", sa.String(BARE), nullable=False),
        sa.Column("stanza", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", "contact",
                                name="pk_pending_subscriptions"),
        _owner("pending_subscriptions"))
    op.create_table(
        "offline_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_ownerColumns(),
        sa.Column("stamp", sa.Float(), nullable=False),
        sa.Column("stanza", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_offline_messages"),
        _owner("offline_messages"))
    op.create_index("ix_offline_messages_owner", "offline_messages",
                    ["domain", "username", "id"])


def downgrade():
    """
    Drop the tables in reverse order.
    """
    op.drop_index("ix_offline_messages_owner", "offline_messages")
    for table in ("offline_messages", "pending_subscriptions",
                  "roster_versions", "roster_items"):
        op.drop_table(table)

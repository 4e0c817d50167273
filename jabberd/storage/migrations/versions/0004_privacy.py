"""
Privacy lists (XEP-0016) and, as a view of the default list, the
blocklist (XEP-0191): one row per list, one per item, owned by an
account and deleted with it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PART = 1023


def _ownerColumns():
    return [sa.Column("domain", sa.String(PART), nullable=False),
            sa.Column("username", sa.String(PART), nullable=False)]


def upgrade():
    """
    Create the privacy list and item tables.
    """
    op.create_table(
        "privacy_lists", *_ownerColumns(),
        sa.Column("name", sa.String(PART), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", "name",
                                name="pk_privacy_lists"),
        sa.ForeignKeyConstraint(
            ["domain", "username"], ["users.domain", "users.username"],
            name="fk_privacy_lists_domain_users", ondelete="CASCADE"))
    op.create_table(
        "privacy_items", *_ownerColumns(),
        sa.Column("list", sa.String(PART), nullable=False),
        sa.Column("item_order", sa.BigInteger(), autoincrement=False,
                  nullable=False),
        sa.Column("action", sa.String(5), nullable=False),
        sa.Column("type", sa.String(12), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("stanzas", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", "list", "item_order",
                                name="pk_privacy_items"),
        sa.ForeignKeyConstraint(
            ["domain", "username", "list"],
            ["privacy_lists.domain", "privacy_lists.username",
             "privacy_lists.name"],
            name="fk_privacy_items_domain_privacy_lists",
            ondelete="CASCADE"))


def downgrade():
    """
    Drop the tables, items first.
    """
    op.drop_table("privacy_items")
    op.drop_table("privacy_lists")

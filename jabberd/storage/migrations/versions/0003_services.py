"""
The small services' state: last logout times (XEP-0012), vCards
(XEP-0054) and private XML storage (XEP-0049), each row owned by an
account and deleted with it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PART = 1023
XML_NAME = 1023


def _owner(table):
    return sa.ForeignKeyConstraint(
        ["domain", "username"], ["users.domain", "users.username"],
        name="fk_%s_domain_users" % (table,), ondelete="CASCADE")


def _ownerColumns():
    return [sa.Column("domain", sa.String(PART), nullable=False),
            sa.Column("username", sa.String(PART), nullable=False)]


def upgrade():
    """
    Create the last activity, vCard and private storage tables.
    """
    op.create_table(
        "last_activity", *_ownerColumns(),
        sa.Column("stamp", sa.Float(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username",
                                name="pk_last_activity"),
        _owner("last_activity"))
    op.create_table(
        "vcards", *_ownerColumns(),
        sa.Column("vcard", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", name="pk_vcards"),
        _owner("vcards"))
    op.create_table(
        "private_storage", *_ownerColumns(),
        sa.Column("namespace", sa.String(XML_NAME), nullable=False),
        sa.Column("name", sa.String(XML_NAME), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", "namespace", "name",
                                name="pk_private_storage"),
        _owner("private_storage"))


def downgrade():
    """
    Drop the tables.
    """
    for table in ("private_storage", "vcards", "last_activity"):
        op.drop_table(table)

"""
Accounts and their SCRAM credentials.

An account is a normalised localpart on a hosted domain; its credentials are
the salted, iterated SCRAM values of RFC 5802 section 3, one row per
mechanism (SCRAM-SHA-1, SCRAM-SHA-256 of RFC 7677).  No password is stored.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PART = 1023


def upgrade():
    """
    Create C{users} and C{user_credentials}.
    """
    op.create_table(
        "users",
        sa.Column("domain", sa.String(PART), nullable=False),
        sa.Column("username", sa.String(PART), nullable=False),
        sa.PrimaryKeyConstraint("domain", "username", name="pk_users"),
    )
    op.create_table(
        "user_credentials",
        sa.Column("domain", sa.String(PART), nullable=False),
        sa.Column("username", sa.String(PART), nullable=False),
        sa.Column("mechanism", sa.String(64), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("iterations", sa.Integer(), nullable=False),
        sa.Column("stored_key", sa.LargeBinary(), nullable=False),
        sa.Column("server_key", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "domain", "username", "mechanism", name="pk_user_credentials"
        ),
        sa.ForeignKeyConstraint(
            ["domain", "username"],
            ["users.domain", "users.username"],
            name="fk_user_credentials_domain_users",
            ondelete="CASCADE",
        ),
    )


def downgrade():
    """
    Drop both tables, credentials first (they refer to users).
    """
    op.drop_table("user_credentials")
    op.drop_table("users")

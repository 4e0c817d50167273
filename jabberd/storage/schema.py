"""
The built-in tables of jabberd's SQL storage.

One L{MetaData} holds every built-in table so that Alembic (see
L{jabberd.storage.migrations}) can compare it with a live database.  Every
table carries a C{domain} column and every key starts with it: one database
serves many virtual hosts, and a store bound to one domain only ever filters
on its own.

The schema itself is changed only by migrations under
C{jabberd/storage/migrations/versions}; this module must describe the
result of applying all of them.
"""

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

#: Constraint names are spelled out so migrations can drop them portably.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A domainpart or localpart is at most 1023 octets (RFC 7622 section 3.2, 3.3).
JID_PART_LENGTH = 1023

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def domainColumn():
    """
    The C{domain} column that scopes a row to one virtual host.
    """
    return Column("domain", String(JID_PART_LENGTH), primary_key=True)


#: One row per account: a normalised localpart on a hosted domain.
users = Table(
    "users",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
)

#: The SCRAM credentials of an account, one row per mechanism (RFC 5802
#: section 3): never a password.
userCredentials = Table(
    "user_credentials",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("mechanism", String(64), primary_key=True),
    Column("salt", LargeBinary, nullable=False),
    Column("iterations", Integer, nullable=False),
    Column("stored_key", LargeBinary, nullable=False),
    Column("server_key", LargeBinary, nullable=False),
    ForeignKeyConstraint(
        ["domain", "username"],
        ["users.domain", "users.username"],
        ondelete="CASCADE",
    ),
)

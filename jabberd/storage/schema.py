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
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
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

#: A bare JID: localpart, '@', domainpart (RFC 7622 section 3.1).
BARE_JID_LENGTH = 2 * JID_PART_LENGTH + 1


def _userForeignKey():
    return ForeignKeyConstraint(
        ["domain", "username"],
        ["users.domain", "users.username"],
        ondelete="CASCADE",
    )


#: Roster items (RFC 6121 section 2.1.2).  A removed item stays as a
#: tombstone (C{subscription='remove'}) so that roster versioning can push
#: the removal to a client that missed it (section 2.6).
rosterItems = Table(
    "roster_items",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("contact", String(BARE_JID_LENGTH), primary_key=True),
    Column("name", Text, nullable=True),
    Column("subscription", String(8), nullable=False),
    Column("ask", Boolean, nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("groups", Text, nullable=False),
    Column("version", Integer, nullable=False),
    _userForeignKey(),
)

#: The current roster version of each account (RFC 6121 section 2.6).
rosterVersions = Table(
    "roster_versions",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    _userForeignKey(),
)

#: Inbound subscription requests not yet approved or denied (RFC 6121
#: section 3.1.3), kept with the request stanza to deliver again.
pendingSubscriptions = Table(
    "pending_subscriptions",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("contact", String(BARE_JID_LENGTH), primary_key=True),
    Column("stanza", Text, nullable=False),
    _userForeignKey(),
)

#: Messages stored for users without an available resource (XEP-0160).
offlineMessages = Table(
    "offline_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(JID_PART_LENGTH), nullable=False),
    Column("username", String(JID_PART_LENGTH), nullable=False),
    Column("stamp", Float, nullable=False),
    Column("stanza", Text, nullable=False),
    Index("ix_offline_messages_owner", "domain", "username", "id"),
    _userForeignKey(),
)

#: When each account last logged out, with the status text of its last
#: unavailable presence (XEP-0012 section 3).
lastActivity = Table(
    "last_activity",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("stamp", Float, nullable=False),
    Column("status", Text, nullable=False),
    _userForeignKey(),
)

#: One vCard per account, as serialised XML (XEP-0054).
vcards = Table(
    "vcards",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("vcard", Text, nullable=False),
    _userForeignKey(),
)

#: Longest namespace or element name that private storage keeps.
XML_NAME_LENGTH = 1023

#: Private XML storage (XEP-0049): one serialised element per account,
#: namespace and element name.
privateStorage = Table(
    "private_storage",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("namespace", String(XML_NAME_LENGTH), primary_key=True),
    Column("name", String(XML_NAME_LENGTH), primary_key=True),
    Column("data", Text, nullable=False),
    _userForeignKey(),
)

#: Privacy lists (XEP-0016) by name; C{is_default} marks the account's
#: default list (at most one per account).  The XEP-0191 blocklist is a
#: view of the default list, so it has no table of its own.
privacyLists = Table(
    "privacy_lists",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("name", String(JID_PART_LENGTH), primary_key=True),
    Column("is_default", Boolean, nullable=False),
    _userForeignKey(),
)

#: The items of each privacy list (XEP-0016 section 2.1).  C{item_order}
#: is an xs:unsignedInt, hence 64-bit; C{stanzas} holds the names of the
#: item's child elements separated by spaces, empty for every stanza.
privacyItems = Table(
    "privacy_items",
    metadata,
    domainColumn(),
    Column("username", String(JID_PART_LENGTH), primary_key=True),
    Column("list", String(JID_PART_LENGTH), primary_key=True),
    Column("item_order", BigInteger, primary_key=True, autoincrement=False),
    Column("action", String(5), nullable=False),
    Column("type", String(12), nullable=True),
    Column("value", Text, nullable=True),
    Column("stanzas", String(64), nullable=False),
    ForeignKeyConstraint(
        ["domain", "username", "list"],
        ["privacy_lists.domain", "privacy_lists.username",
         "privacy_lists.name"],
        ondelete="CASCADE",
    ),
)

"""
Accounts and their SCRAM credentials.

RFC 5802 section 3 lets a server authenticate SCRAM without knowing the
password: it keeps a salt, an iteration count, a StoredKey and a ServerKey
per hash function.  An account here is exactly that, one
L{ScramCredential} per mechanism (SCRAM-SHA-1 and, per RFC 7677,
SCRAM-SHA-256), keyed by a localpart already normalised by the caller
(RFC 7622 section 3.3: the UsernameCaseMapped profile of RFC 8265).

Every store is bound to one domain.  The SQL functions (C{*Txn}) are
public so the CLI can run them synchronously with L{Database.runNow}.
"""

from sqlalchemy import bindparam, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from twisted.internet.defer import maybeDeferred, succeed
from zope.interface import Attribute, Interface, implementer

from jabberd.credentials import ScramCredential
from jabberd.storage.schema import userCredentials, users


class UserExists(Exception):
    """
    An account with this username already exists on the domain.
    """


class NoSuchUser(Exception):
    """
    The domain has no account with this username.
    """


class IUserStore(Interface):
    """
    The accounts of one domain.

    Usernames are normalised localparts; the store compares them exactly.
    C{credentials} arguments map a mechanism name to its L{ScramCredential},
    as L{jabberd.credentials.deriveCredentials} returns them.
    """

    domain = Attribute("the domain this store is bound to")

    def createUser(username, credentials):
        """
        Create an account.

        @return: a L{Deferred} firing with C{None}, or failing with
            L{UserExists}.
        """

    def getCredential(username, mechanism):
        """
        Look up the credential an account holds for one SCRAM mechanism.

        @return: a L{Deferred} firing with a L{ScramCredential}, or C{None} if
            there is no such account or it has no credential for C{mechanism}.
        """

    def setCredentials(username, credentials):
        """
        Replace all the credentials of an account (a password change).

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """

    def deleteUser(username):
        """
        Delete an account and its credentials.

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """

    def userExists(username):
        """
        @return: a L{Deferred} firing with whether the account exists.
        """

    def listUsers():
        """
        @return: a L{Deferred} firing with the sorted C{list} of usernames.
        """


def checkCredentials(credentials):
    """
    Refuse a credentials mapping whose keys do not name their credentials.

    @raise ValueError: if a key differs from its credential's mechanism.
    """
    for mechanism, credential in credentials.items():
        if credential.mechanism != mechanism:
            raise ValueError(
                f"credential for {credential.mechanism} filed under {mechanism}"
            )


@implementer(IUserStore)
class MemoryUserStore:
    """
    Accounts kept in a L{MemoryDatabase}; every result is already fired.

    The table maps a username to a C{dict} of credentials.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._accounts = backend.table("users", domain)

    def _create(self, username, credentials):
        checkCredentials(credentials)
        if username in self._accounts:
            raise UserExists(username)
        self._accounts[username] = dict(credentials)

    def _replace(self, username, credentials):
        checkCredentials(credentials)
        if username not in self._accounts:
            raise NoSuchUser(username)
        self._accounts[username] = dict(credentials)

    def _delete(self, username):
        if self._accounts.pop(username, None) is None:
            raise NoSuchUser(username)

    def createUser(self, username, credentials):
        return maybeDeferred(self._create, username, credentials)

    def getCredential(self, username, mechanism):
        return succeed(self._accounts.get(username, {}).get(mechanism))

    def setCredentials(self, username, credentials):
        return maybeDeferred(self._replace, username, credentials)

    def deleteUser(self, username):
        return maybeDeferred(self._delete, username)

    def userExists(self, username):
        return succeed(username in self._accounts)

    def listUsers(self):
        return succeed(sorted(self._accounts))


def _accountClause(domain, username):
    return (users.c.domain == domain) & (users.c.username == username)


def _credentialRows(domain, username, credentials):
    return [
        dict(
            domain=domain,
            username=username,
            mechanism=mechanism,
            salt=credential.salt,
            iterations=credential.iterations,
            stored_key=credential.storedKey,
            server_key=credential.serverKey,
        )
        for mechanism, credential in credentials.items()
    ]


def _insertCredentials(connection, domain, username, credentials):
    rows = _credentialRows(domain, username, credentials)
    if rows:
        connection.execute(insert(userCredentials), rows)


def userExistsTxn(connection, domain, username):
    """
    Whether C{username} has an account on C{domain}.
    """
    query = select(exists().where(_accountClause(domain, username)))
    return connection.execute(query).scalar()


def createUserTxn(connection, domain, username, credentials):
    """
    Insert an account and its credentials.

    @raise UserExists: if the account exists.
    """
    checkCredentials(credentials)
    if userExistsTxn(connection, domain, username):
        raise UserExists(username)
    connection.execute(insert(users).values(domain=domain, username=username))
    _insertCredentials(connection, domain, username, credentials)


#: Built once: constructing a SQLAlchemy statement costs more than running
#: this one on SQLite.
_credentialQuery = select(
    userCredentials.c.salt, userCredentials.c.iterations,
    userCredentials.c.stored_key, userCredentials.c.server_key,
).where(
    (userCredentials.c.domain == bindparam("domain"))
    & (userCredentials.c.username == bindparam("username"))
    & (userCredentials.c.mechanism == bindparam("mechanism"))
)


def getCredentialTxn(connection, domain, username, mechanism):
    """
    The credential of an account for C{mechanism}, or C{None}.
    """
    row = connection.execute(_credentialQuery, dict(
        domain=domain, username=username, mechanism=mechanism)).first()
    if row is None:
        return None
    return ScramCredential(
        mechanism, bytes(row.salt), row.iterations,
        bytes(row.stored_key), bytes(row.server_key),
    )


def _deleteCredentials(connection, domain, username):
    connection.execute(
        delete(userCredentials).where(
            (userCredentials.c.domain == domain)
            & (userCredentials.c.username == username)
        )
    )


def setCredentialsTxn(connection, domain, username, credentials):
    """
    Replace every credential of an account.

    @raise NoSuchUser: if there is no such account.
    """
    checkCredentials(credentials)
    if not userExistsTxn(connection, domain, username):
        raise NoSuchUser(username)
    _deleteCredentials(connection, domain, username)
    _insertCredentials(connection, domain, username, credentials)


def deleteUserTxn(connection, domain, username):
    """
    Delete an account and its credentials.

    @raise NoSuchUser: if there is no such account.
    """
    _deleteCredentials(connection, domain, username)
    result = connection.execute(delete(users).where(_accountClause(domain, username)))
    if result.rowcount == 0:
        raise NoSuchUser(username)


def listUsersTxn(connection, domain):
    """
    The usernames of C{domain}, sorted by code point (as Python sorts, not by
    the database's collation, so every backend agrees).
    """
    query = select(users.c.username).where(users.c.domain == domain)
    return sorted(connection.execute(query).scalars())


def _raceToUserExists(failure, username):
    """
    Two concurrent creations both passed the existence check; the primary
    key stopped the second one.
    """
    failure.trap(IntegrityError)
    raise UserExists(username)


@implementer(IUserStore)
class SQLUserStore:
    """
    Accounts in the C{users} and C{user_credentials} tables of a L{Database}.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def _run(self, fn, *args):
        return self._database.runInteraction(fn, self.domain, *args)

    def createUser(self, username, credentials):
        d = self._run(createUserTxn, username, credentials)
        return d.addErrback(_raceToUserExists, username)

    def getCredential(self, username, mechanism):
        return self._run(getCredentialTxn, username, mechanism)

    def setCredentials(self, username, credentials):
        return self._run(setCredentialsTxn, username, credentials)

    def deleteUser(self, username):
        return self._run(deleteUserTxn, username)

    def userExists(self, username):
        return self._run(userExistsTxn, username)

    def listUsers(self):
        return self._run(listUsersTxn)

"""
Provision jabberd's benchmark accounts and rosters in bulk.

C{jabberctl adduser} derives fresh credentials (PBKDF2) per account and
opens the database per call: minutes for thousands of accounts.  This
writes them all in one transaction with the storage layer's own functions
(L{jabberd.storage.users.createUserTxn},
L{jabberd.storage.roster.saveItemTxn}), every account carrying the same
credentials from L{accounts.allKeys}.
"""

from jabberd.config import loadConfig
from jabberd.credentials import ScramCredential
from jabberd.roster import RosterItem
from jabberd.storage import Database
from jabberd.storage import roster, users

from accounts import DOMAIN, allKeys, userName


def credentials():
    """
    @return: the benchmark's keys as jabberd credentials, by mechanism.
    """
    return {mechanism: ScramCredential(mechanism, k.salt, k.iterations,
                                       k.storedKey, k.serverKey)
            for mechanism, k in allKeys().items()}


def _provisionTxn(connection, layout, credentials):
    for index in range(layout.users):
        name = userName(index)
        users.createUserTxn(connection, DOMAIN, name, credentials)
        for version, contact in enumerate(layout.contacts(index), 1):
            item = RosterItem("%s@%s" % (userName(contact), DOMAIN),
                              subscription="both", version=version)
            roster.saveItemTxn(connection, DOMAIN, name, item)


def provisionJabberd(configPath, layout):
    """
    Create the schema and the accounts of C{layout} in the database that
    the configuration at C{configPath} names.
    """
    config = loadConfig(configPath)
    database = Database(config.storage, None)
    try:
        database.checkSchema(True)
        database.runNow(_provisionTxn, layout, credentials())
    finally:
        database.dispose()

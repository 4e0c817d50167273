"""
Which store implementation serves which interface on which backend.

Each plugin declares a store interface and ships two implementations: one
on a L{MemoryDatabase}, one on an SQL L{Database}.  It registers both here;
the host opens the store for its own domain, so a plugin only ever holds a
store bound to the domain it serves (the per-host backends of ejabberd's
C{gen_mod}, with the tenant fixed at open time).
"""

from jabberd.storage.database import Database, MemoryDatabase
from jabberd.storage.users import IUserStore, MemoryUserStore, SQLUserStore


class UnknownStore(KeyError):
    """
    No implementation is registered for this store interface.
    """

    def __str__(self):
        return self.args[0]


class StoreRegistry:
    """
    Store factories by interface, one for each kind of backend.

    A factory is called as C{factory(backend, domain)} and returns a provider
    of the interface bound to C{domain}.
    """

    def __init__(self):
        self._factories = {}

    def __contains__(self, iface):
        return iface in self._factories

    def register(self, iface, memoryFactory, sqlFactory):
        """
        Declare the implementations of the store interface C{iface}.

        Registering the same pair again is harmless; a different pair for an
        interface already registered is refused.

        @raise ValueError: if C{iface} already has other factories.
        """
        factories = (memoryFactory, sqlFactory)
        known = self._factories.setdefault(iface, factories)
        if known != factories:
            raise ValueError(f"{iface.__identifier__} already has store factories")

    def open(self, iface, backend, domain):
        """
        A store providing C{iface} on C{backend}, bound to C{domain}.

        @param backend: a L{Database} or a L{MemoryDatabase}.
        @raise UnknownStore: if C{iface} was never registered.
        @raise TypeError: if C{backend} is of neither kind, or the factory
            returned something that does not provide C{iface}.
        """
        try:
            memoryFactory, sqlFactory = self._factories[iface]
        except KeyError:
            raise UnknownStore(
                f"no store registered for {iface.__identifier__}: "
                f"call StoreRegistry.register() first"
            ) from None
        store = _pick(backend, memoryFactory, sqlFactory)(backend, domain)
        if not iface.providedBy(store):
            raise TypeError(f"{store!r} does not provide {iface.__identifier__}")
        return store


def _pick(backend, memoryFactory, sqlFactory):
    if isinstance(backend, MemoryDatabase):
        return memoryFactory
    if isinstance(backend, Database):
        return sqlFactory
    raise TypeError(f"{backend!r} is neither a Database nor a MemoryDatabase")


def defaultRegistry():
    """
    A new registry holding the core stores (L{IUserStore}); plugins add theirs.
    """
    registry = StoreRegistry()
    registry.register(IUserStore, MemoryUserStore, SQLUserStore)
    return registry

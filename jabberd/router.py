"""
The router: which domain is served by what.

Each domain maps to one route target: a L{jabberd.host.VirtualHost} for the
domains we host, a L{jabberd.component.ComponentRoute} for external
components (later also remote servers).  A target has one method,
C{receive(stanza)}.  Routing is one dictionary lookup.
"""


class Router:
    """
    Domain to route target.

    @ivar unroutable: called with a stanza whose domain has no route.
    """

    def __init__(self, unroutable):
        self._routes = {}
        self.unroutable = unroutable

    def addRoute(self, domain, target):
        """
        Send stanzas for C{domain} to C{target}.
        """
        self._routes[domain] = target

    def removeRoute(self, domain):
        """
        Stop routing C{domain}; unknown domains are ignored.
        """
        self._routes.pop(domain, None)

    def domains(self):
        """
        The routed domains (hosts, components, ...), as a new list.
        """
        return list(self._routes)

    def targetFor(self, domain):
        """
        The target for C{domain}, or C{None}.
        """
        return self._routes.get(domain)

    def route(self, stanza):
        """
        Deliver C{stanza} to the target of its recipient's domain.
        """
        target = self._routes.get(stanza.recipient.host)
        if target is None:
            self.unroutable(stanza)
        else:
            target.receive(stanza)

"""
The server: the hosts of one process, the router between them, and what
they share (TLS contexts, stores, the authentication throttle).

L{Server} is plain state plus the operations a config reload needs (add a
host, remove a host, re-read certificates); the Twisted service tree that
starts listeners around it lives in L{jabberd.service}.
"""


from jabberd.component import ComponentRoute
from jabberd.config import ConfigError
from jabberd.errors import StanzaError
from jabberd.host import VirtualHost
from jabberd.jid import setCacheSize
from jabberd.loader import resolvePlugins
from jabberd.logsetup import Logger
from jabberd.stanza import Stanza
from jabberd.throttle import AuthThrottle
from jabberd.tls import TLSContexts, ensureSelfSigned, loadCredentials
from jabberd.router import Router
from jabberd.s2s.federation import Federation

log = Logger()


class Server:
    """
    Everything one jabberd process serves.

    @ivar hosts: domain to L{VirtualHost}.
    @ivar components: domain to L{ComponentRoute}, for every configured
        external component (XEP-0114), connected or not.
    @ivar connections: peer address to number of open client connections.
    """

    def __init__(self, config, reactor, backend, stores, factories):
        self.config = config
        self.reactor = reactor
        self.backend = backend
        self.stores = stores
        self.factories = factories
        self.router = Router(self.unroutable)
        self.tls = TLSContexts()
        self.throttle = AuthThrottle(reactor, config.authFailureDelay,
                                     config.authFailureMaxDelay)
        self.hosts = {}
        self.components = {}
        self.connections = {}
        self.federation = Federation(self, reactor)
        setCacheSize(config.jidCacheSize)
        for factory in factories.values():
            for iface, (memory, sql) in getattr(factory, "stores", {}).items():
                stores.register(iface, memory, sql)

    def openStore(self, iface, domain):
        """
        The store for C{iface} bound to C{domain}.
        """
        return self.stores.open(iface, self.backend, domain)

    def checkHosts(self, config):
        """
        Resolve every host's plugins before anything changes, so that a
        bad config is refused whole.

        @return: domain to the list of C{(factory, parsedConfig)}.
        @raise ConfigError: naming the key at fault.
        """
        _checkComponents(config)
        return {domain: resolvePlugins(hostConfig, self.factories,
                                       config.source)
                for domain, hostConfig in config.hosts.items()}

    def start(self):
        """
        Add every configured host.
        """
        plugins = self.checkHosts(self.config)
        for domain, hostConfig in self.config.hosts.items():
            self.addHost(hostConfig, plugins[domain])
        for componentConfig in self.config.components.values():
            self.addComponent(componentConfig)

    def addHost(self, hostConfig, plugins):
        """
        Start serving C{hostConfig.domain}.
        """
        self._loadCertificate(hostConfig)
        host = VirtualHost(self, hostConfig)
        self._attachPlugins(host, plugins)
        self.hosts[host.domain] = host
        self.router.addRoute(host.domain, host)
        log.info("serving {domain}", domain=host.domain)
        return host

    def removeHost(self, domain):
        """
        Stop serving C{domain}; its sessions get C{<host-gone/>}.
        """
        host = self.hosts.pop(domain)
        self.router.removeRoute(domain)
        host.stop("host-gone")
        self.tls.removeDomain(domain)
        log.info("stopped serving {domain}", domain=domain)

    def addComponent(self, componentConfig):
        """
        Route C{componentConfig.domain} to an external component, which
        may now connect.
        """
        route = ComponentRoute(self, componentConfig)
        self.components[route.domain] = route
        self.router.addRoute(route.domain, route)
        log.info("component {domain} configured", domain=route.domain)
        return route

    def removeComponent(self, domain):
        """
        Stop routing C{domain} to its component, and disconnect it with
        C{<host-gone/>}.
        """
        route = self.components.pop(domain)
        self.router.removeRoute(domain)
        route.close("host-gone")
        log.info("component {domain} removed", domain=domain)

    def _reloadComponents(self, config):
        """
        Add and update the components of a re-read config (a changed
        secret applies from the next handshake).
        """
        for domain, componentConfig in config.components.items():
            if domain in self.components:
                self.components[domain].config = componentConfig
            else:
                self.addComponent(componentConfig)

    def _loadCertificate(self, hostConfig):
        certPath, keyPath = hostConfig.tlsCertificate, hostConfig.tlsKey
        if certPath is None:
            certPath, keyPath = ensureSelfSigned(self.config.dataDir,
                                                 hostConfig.domain)
        self.tls.setDomain(hostConfig.domain,
                           loadCredentials(certPath, keyPath))

    def reload(self, config):
        """
        Apply a re-read config: hosts added or removed, plugins switched
        on or off, certificates reloaded.  Sessions on hosts whose domain
        stays are kept.

        @raise ConfigError: the new config is refused whole; nothing
            changed.
        """
        plugins = self.checkHosts(config)
        for hostConfig in config.hosts.values():
            self._loadCertificateChecked(hostConfig)
        for domain in list(self.hosts):
            if domain not in config.hosts:
                self.removeHost(domain)
        for domain in list(self.components):
            if domain not in config.components:
                self.removeComponent(domain)
        for domain, hostConfig in config.hosts.items():
            if domain in self.hosts:
                self._reconfigure(self.hosts[domain], hostConfig,
                                  plugins[domain])
            else:
                self.addHost(hostConfig, plugins[domain])
        self._reloadComponents(config)
        for host in self.hosts.values():
            host.accounts.configure(config.credentialCacheSize,
                                    config.credentialCacheTtl)
        self.config = config

    def forgetCredentials(self):
        """
        Accounts changed outside this process (C{jabberctl}): drop every
        host's cached login credentials.
        """
        for host in self.hosts.values():
            host.accounts.forgetAll()
        log.info("cached credentials forgotten")

    def _loadCertificateChecked(self, hostConfig):
        if hostConfig.tlsCertificate is not None:
            loadCredentials(hostConfig.tlsCertificate, hostConfig.tlsKey)

    def _reconfigure(self, host, hostConfig, plugins):
        """
        Bring a running host's plugins and certificate in line with its
        new config.  A plugin that was switched off or whose options
        changed is detached, and so is every plugin that requires it (it
        may hold what the old instance provided); then whatever is missing
        is attached afresh.  Sessions are untouched.
        """
        self._loadCertificate(hostConfig)
        wanted = {factory.name: options for factory, options in plugins}
        stale = {name for name, (context, _) in host.plugins.items()
                 if name not in wanted or wanted[name] != context.config}
        stale = self._withDependents(host, stale)
        for name in reversed(list(host.plugins)):
            if name in stale:
                host.detachPlugin(name)
                log.info("plugin {plugin} disabled on {domain}",
                         plugin=name, domain=host.domain)
        host.config = hostConfig
        self._attachPlugins(host, plugins)

    def _withDependents(self, host, names):
        """
        C{names} and the plugins attached to C{host} that require any of
        them, directly or not.
        """
        names = set(names)
        grown = True
        while grown:
            grown = False
            for name in host.plugins:
                requires = getattr(self.factories[name], "requires", ())
                if name not in names and names.intersection(requires):
                    names.add(name)
                    grown = True
        return names

    def _attachPlugins(self, host, plugins):
        """
        Attach, in dependency order, each plugin not attached yet.  One
        whose requirement failed to attach is left off too, and reported.
        """
        for factory, options in plugins:
            if factory.name in host.plugins:
                continue
            missing = [name for name in getattr(factory, "requires", ())
                       if name not in host.plugins]
            if missing:
                log.error("plugin {plugin} left off on {domain}: it requires "
                          "{missing}, which did not attach",
                          plugin=factory.name, domain=host.domain,
                          missing=", ".join(missing))
                continue
            host.attachPlugin(factory, options)

    def unroutable(self, stanza):
        """
        No route to the recipient's domain: federation sends it on if the
        sender's domain federates; otherwise answer with
        C{remote-server-not-found} (RFC 6120 section 8.3.3.15).
        """
        if self.federation.handles(stanza):
            self.federation.send(stanza)
            return
        if stanza.type == "error" or stanza.sender is None:
            return
        reply = stanza.errorReply(StanzaError("remote-server-not-found"))
        reply["from"] = stanza.recipient.full()
        self.router.route(Stanza(reply, stanza.recipient, stanza.sender))

    def stop(self):
        """
        End every session and component stream with
        C{<system-shutdown/>}.
        """
        for host in list(self.hosts.values()):
            host.stop("system-shutdown")
        for route in self.components.values():
            route.close("system-shutdown")
        self.federation.stop()

    def connectionOpened(self, address):
        """
        Count a new client connection from C{address}.

        @return: C{False} if that address already has the most allowed.
        """
        count = self.connections.get(address, 0)
        if count >= self.config.maxConnectionsPerAddress:
            return False
        self.connections[address] = count + 1
        return True

    def connectionClosed(self, address):
        """
        Forget one connection from C{address}.
        """
        count = self.connections.get(address, 0) - 1
        if count > 0:
            self.connections[address] = count
        else:
            self.connections.pop(address, None)


def _checkComponents(config):
    """
    A domain is either hosted or a component's, never both.

    @raise ConfigError: naming the component's table.
    """
    for domain in config.components:
        if domain in config.hosts:
            raise ConfigError(config.source, 'components."%s"' % (domain,),
                              "also configured as a host in "
                              '[hosts."%s"]' % (domain,))

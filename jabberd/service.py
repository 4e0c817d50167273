"""
The Twisted service tree of a jabberd process.

L{makeService} does every check that can fail before anything starts
(config, plugins, certificates, database schema), so that an operator's
mistake ends start-up with one line naming the config key instead of a
traceback from a half-started server.
"""

import os
import signal

from twisted.application import service, strports
from twisted.logger import ILogObserver

from jabberd.c2s import ClientStreamFactory
from jabberd.component import ComponentStreamFactory
from jabberd.config import ConfigError, loadConfig
from jabberd.loader import discoverPlugins
from jabberd.logsetup import Logger, makeObserver
from jabberd.s2s.incoming import IncomingStreamFactory, directTLSFactory
from jabberd.server import Server
from jabberd.storage import Database, SchemaError, defaultRegistry
from jabberd.tls import CertificateError
from jabberd.transport import CoalescingListener

log = Logger()


class JabberdService(service.MultiService):
    """
    The database, the server and its listeners; reloads on C{SIGHUP} and
    forgets cached login credentials on C{SIGUSR2} (sent by C{jabberctl}).
    """

    def __init__(self, config, reactor, observer=None):
        service.MultiService.__init__(self)
        self.reactor = reactor
        self.config = config
        self.observer = observer
        self.database = Database(config.storage, reactor)
        self.database.setServiceParent(self)
        self.server = Server(config, reactor, self.database,
                             defaultRegistry(), discoverPlugins())
        self._listen(config.c2sListeners, ClientStreamFactory(self.server))
        self._listen(config.componentListeners,
                     ComponentStreamFactory(self.server))
        federation = self.server.federation
        if federation.policy.anyEnabled():
            self._listen(config.s2sListeners,
                         IncomingStreamFactory(federation))
            self._listen(config.s2sDirectTlsListeners,
                         directTLSFactory(federation))

    def _listen(self, descriptions, factory):
        """
        Listen on each endpoint description; TCP connections write once per
        reactor turn (L{jabberd.transport}).
        """
        reactor = CoalescingListener(self.reactor)
        for description in descriptions:
            listener = strports.service(description, factory, reactor=reactor)
            listener.setServiceParent(self)

    def setServiceParent(self, parent):
        """
        Attach to twistd's application, and give it our log observer (so
        that C{log_format} and C{log_level} take effect).
        """
        service.MultiService.setServiceParent(self, parent)
        if self.observer is not None and hasattr(parent, "setComponent"):
            parent.setComponent(ILogObserver, self.observer)

    def startService(self):
        self.server.start()
        service.MultiService.startService(self)
        self._writePidfile()
        signal.signal(signal.SIGHUP, self._sighup)
        signal.signal(signal.SIGUSR2, self._sigusr2)
        log.info("jabberd started: {hosts}",
                 hosts=", ".join(sorted(self.server.hosts)))

    def stopService(self):
        self.server.stop()
        self._removePidfile()
        return service.MultiService.stopService(self)

    def _sighup(self, signum, frame):
        self.reactor.callFromThread(self.reload)

    def _sigusr2(self, signum, frame):
        self.reactor.callFromThread(self.server.forgetCredentials)

    def reload(self):
        """
        Re-read the config file and apply it; a bad file is refused whole
        and logged, and the server goes on with the old one.
        """
        try:
            config = loadConfig(self.config.source
                                if self.config.source != "<defaults>"
                                else None)
            self.server.reload(config)
        except (ConfigError, CertificateError) as e:
            log.error("config reload refused: {error}", error=str(e))
            return
        if config.c2sListeners != self.config.c2sListeners:
            log.warn("c2s_listeners changed: restart to apply")
        if config.componentListeners != self.config.componentListeners:
            log.warn("component_listeners changed: restart to apply")
        if (config.s2sListeners, config.s2sDirectTlsListeners) != (
                self.config.s2sListeners, self.config.s2sDirectTlsListeners):
            log.warn("s2s listeners changed: restart to apply")
        self.config = config
        log.info("config reloaded: {hosts}",
                 hosts=", ".join(sorted(self.server.hosts)))

    def _writePidfile(self):
        os.makedirs(os.path.dirname(self.config.pidfile), exist_ok=True)
        with open(self.config.pidfile, "w") as f:
            f.write("%d\n" % (os.getpid(),))

    def _removePidfile(self):
        try:
            os.remove(self.config.pidfile)
        except OSError:
            pass


def makeService(configPath, reactor, logfile=None):
    """
    Build the service for the config at C{configPath} (C{None}: the
    zero-config defaults).

    @raise SystemExit: with a one-line message, if anything is wrong.
    """
    try:
        config = loadConfig(configPath)
        os.makedirs(config.dataDir, exist_ok=True)
        result = JabberdService(config, reactor,
                                makeObserver(config, logfile))
        result.server.checkHosts(config)
        result.database.checkSchema(config.storageAutoUpgrade)
    except (ConfigError, SchemaError, CertificateError) as e:
        raise SystemExit("jabberd: %s" % (e,))
    return result

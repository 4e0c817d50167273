"""
Tests for L{jabberd.logsetup}: events below C{log_level} are dropped
where they are logged, and the observer writes the rest.
"""

import json

from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from jabberd.config import parseConfig
from jabberd.logsetup import Logger, makeObserver, setLevel


class LevelTests(SynchronousTestCase):

    def setUp(self):
        self.addCleanup(setLevel, LogLevel.debug)
        self.events = []
        self.log = Logger(observer=self.events.append)

    def test_belowLevelDropped(self):
        """
        Under C{warn}, debug and info events never reach an observer;
        warnings and errors do.
        """
        setLevel(LogLevel.warn)
        self.log.debug("d")
        self.log.info("i")
        self.log.warn("w")
        self.log.error("e")
        self.assertEqual([e["log_format"] for e in self.events], ["w", "e"])

    def test_failuresAlwaysPass(self):
        """
        C{log.failure} is critical: no level drops it.
        """
        setLevel(LogLevel.error)
        try:
            1 / 0
        except ZeroDivisionError:
            self.log.failure("boom")
        self.assertEqual([e["log_format"] for e in self.events], ["boom"])

    def test_descriptorKeepsTheGate(self):
        """
        A L{Logger} used as a class attribute (Twisted's idiom) makes
        loggers that drop events too.
        """
        class Thing:
            log = Logger(observer=self.events.append)
        setLevel(LogLevel.warn)
        Thing().log.info("i")
        Thing().log.warn("w")
        self.assertEqual([e["log_format"] for e in self.events], ["w"])

    def test_observerSetsTheLevel(self):
        """
        L{makeObserver} applies C{log_level} at the source, and its own
        output holds the events at that level and above.
        """
        path = self.mktemp()
        config = parseConfig({"log_level": "warn", "log_format": "json"},
                             "<test>")
        observer = makeObserver(config, path)
        log = Logger(observer=observer)
        log.info("quiet {x}", x=1)
        log.warn("loud {x}", x=2)
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([line["log_format"] for line in lines], ["loud {x}"])

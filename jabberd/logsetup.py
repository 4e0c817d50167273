"""
Log output: structured events from C{twisted.logger}, written as text or
as one JSON object per line, filtered by level (config keys C{log_format}
and C{log_level}).

Events carry their fields (C{domain}, C{jid}, C{address}, ...) so JSON
output is machine-readable; stanza content is never logged.

jabberd's modules log through L{Logger}, which drops an event below the
configured level before it is built: every login logs three info events,
and building, publishing and then filtering each out cost more than a
tenth of a login's time under C{log_level = "warn"}.
"""

import sys

from twisted.logger import (
    FilteringLogObserver, LogLevel, LogLevelFilterPredicate,
    jsonFileLogObserver, textFileLogObserver)
from twisted.logger import Logger as _TwistedLogger

_RANK = {level: rank for rank, level in enumerate(
    (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error,
     LogLevel.critical))}

#: The rank of the least severe level our observers write.
_threshold = [_RANK[LogLevel.debug]]


class Logger(_TwistedLogger):
    """
    A L{twisted.logger.Logger} that does nothing for events less severe
    than the server's C{log_level} (see L{setLevel}).
    """

    def emit(self, level, format=None, **kwargs):
        if _RANK.get(level, len(_RANK)) < _threshold[0]:
            return
        _TwistedLogger.emit(self, level, format, **kwargs)


def setLevel(level):
    """
    Drop events below C{level} at their source, in every L{Logger}.
    """
    _threshold[0] = _RANK[level]


def makeObserver(config, logfile=None):
    """
    The log observer for C{config}, writing to C{logfile} (a path) or to
    standard output.
    """
    stream = open(logfile, "a") if logfile and logfile != "-" else sys.stdout
    if config.logFormat == "json":
        observer = jsonFileLogObserver(stream, recordSeparator="")
    else:
        observer = textFileLogObserver(stream)
    level = LogLevel.levelWithName(config.logLevel)
    setLevel(level)
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    return FilteringLogObserver(observer, [predicate])

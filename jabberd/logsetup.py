"""
Log output: structured events from C{twisted.logger}, written as text or
as one JSON object per line, filtered by level (config keys C{log_format}
and C{log_level}).

Events carry their fields (C{domain}, C{jid}, C{address}, ...) so JSON
output is machine-readable; stanza content is never logged.
"""

import sys

from twisted.logger import (
    FilteringLogObserver, LogLevel, LogLevelFilterPredicate,
    jsonFileLogObserver, textFileLogObserver)


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
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    return FilteringLogObserver(observer, [predicate])

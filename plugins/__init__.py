"""
jabberd plugins: a Twisted drop-in package.

Modules here, and modules that other installed distributions place in a
C{plugins} directory on C{sys.path}, are searched for
L{jabberd.plugin.IPluginFactory} providers.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__ = []

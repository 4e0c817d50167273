"""
The plugin contract.

A plugin is a distribution module in the top-level C{plugins} package (ours
or any installed distribution's: it is a Twisted drop-in package) that
provides L{IPluginFactory}.  The server finds factories with
L{twisted.plugin.getPlugins}; each host that enables a plugin by name gets
one instance, made with a L{jabberd.context.HostContext} through which the
instance registers everything it does.
"""

from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface, implementer


class PluginConfigError(Exception):
    """
    A plugin's options are wrong.

    @ivar key: the option's name within the plugin's table.
    @ivar reason: what is wrong, for the operator.
    """

    def __init__(self, key, reason):
        Exception.__init__(self, key, reason)
        self.key = key
        self.reason = reason

    def __str__(self):
        return "%s: %s" % (self.key, self.reason)


class IPluginFactory(IPlugin):
    """
    Makes one plugin instance per virtual host that enables it.
    """

    name = Attribute("The name operators use in the C{plugins} list.")
    description = Attribute("One line for C{jabberctl} and the logs.")
    requires = Attribute("Names of plugins that must be enabled on the "
                         "same host before this one.")
    stores = Attribute("Mapping of store interface to a pair of factories "
                       "C{(memoryFactory, sqlFactory)}, each called as "
                       "C{factory(backend, domain)}.")

    def parseConfig(options):
        """
        Validate this plugin's options (a dict from the config file) and
        return the object the instance will see as C{context.config}.

        @raise PluginConfigError: naming the bad option.
        """

    def makeInstance(context):
        """
        Make the instance for one host; it registers its hooks, IQ
        handlers and features through C{context}.
        """


class IDetachable(Interface):
    """
    Optionally provided by a plugin instance that holds resources besides
    its registrations (those are undone for it).
    """

    def detached():
        """
        The plugin was switched off on its host.
        """


def parseOptions(schema, options):
    """
    Check C{options} against C{schema} (option name to default value; the
    default's type is the option's type) and fill in defaults.

    @raise PluginConfigError: an unknown option or a value of the wrong
        type.
    """
    for key in options:
        if key not in schema:
            raise PluginConfigError(key, "unknown option (known: %s)"
                                    % (", ".join(sorted(schema)) or "none"))
    result = {}
    for key, default in schema.items():
        value = options.get(key, default)
        if not _sameType(value, default):
            raise PluginConfigError(key, "expected %s, got %r"
                                    % (type(default).__name__, value))
        result[key] = value
    return result


def _sameType(value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


@implementer(IPluginFactory)
class PluginFactory:
    """
    A convenient base for plugin factories: set C{name}, C{description},
    C{options} (name to default) and C{instanceClass}, which is called
    with the host context.
    """

    name = None
    description = ""
    requires = ()
    stores = {}
    options = {}
    #: Option name to the smallest value it accepts (for numbers).
    minimums = {}
    instanceClass = None

    def parseConfig(self, options):
        config = parseOptions(self.options, options)
        for key, minimum in self.minimums.items():
            if config[key] < minimum:
                raise PluginConfigError(key, "must be %s or more" % (minimum,))
        return config

    def makeInstance(self, context):
        return self.instanceClass(context)

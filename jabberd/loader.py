"""
Finding plugins and turning a host's C{plugins} list into factories.

Plugins are Twisted drop-ins in the top-level C{plugins} package, so a
third-party distribution that installs a module there is found like ours.
"""

from twisted.plugin import getPlugins

from jabberd.config import ConfigError
from jabberd.plugin import IPluginFactory, PluginConfigError


def discoverPlugins():
    """
    Every installed plugin factory, by name.
    """
    import plugins
    return {factory.name: factory
            for factory in getPlugins(IPluginFactory, plugins)}


def resolvePlugins(hostConfig, factories, source):
    """
    The factories a host enables, each after those it requires, with their
    parsed options.

    @return: a list of C{(factory, parsedConfig)}.
    @raise ConfigError: an unknown plugin, a missing requirement or a bad
        plugin option, naming the config key.
    """
    prefix = 'hosts."%s"' % (hostConfig.domain,)
    enabled = list(hostConfig.plugins)
    for name in enabled:
        if name not in factories:
            raise ConfigError(source, prefix + ".plugins",
                              "unknown plugin %r (installed: %s)"
                              % (name, ", ".join(sorted(factories))))
    for name in hostConfig.pluginOptions:
        if name not in factories:
            raise ConfigError(source, prefix + ".plugin." + name,
                              "options for unknown plugin %r" % (name,))
    ordered = _dependencyOrder(enabled, factories, source, prefix)
    return [(factories[name],
             _parseOptions(factories[name], hostConfig, source, prefix))
            for name in ordered]


def _dependencyOrder(enabled, factories, source, prefix):
    ordered = []

    def visit(name, chain):
        if name in ordered:
            return
        if name in chain:
            raise ConfigError(source, prefix + ".plugins",
                              "plugins require each other in a cycle: "
                              + " -> ".join(chain + [name]))
        for required in getattr(factories[name], "requires", ()):
            if required not in enabled:
                raise ConfigError(source, prefix + ".plugins",
                                  "plugin %r requires %r, which is not "
                                  "enabled" % (name, required))
            visit(required, chain + [name])
        ordered.append(name)

    for name in enabled:
        visit(name, [])
    return ordered


def _parseOptions(factory, hostConfig, source, prefix):
    options = dict(hostConfig.pluginOptions.get(factory.name, {}))
    try:
        return factory.parseConfig(options)
    except PluginConfigError as e:
        raise ConfigError(source, "%s.plugin.%s.%s"
                          % (prefix, factory.name, e.key), e.reason)

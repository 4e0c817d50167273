"""
Tests for L{jabberd.loader} (finding plugins, ordering and configuring a
host's plugins) and L{jabberd.plugin.parseOptions}.
"""

import pytest
from zope.interface.verify import verifyObject

import plugins.ping
import plugins.register
from jabberd.config import ConfigError, parseConfig
from jabberd.loader import discoverPlugins, resolvePlugins
from jabberd.plugin import (IPluginFactory, PluginConfigError, PluginFactory,
                            parseOptions)

SOURCE = "test.toml"
DOMAIN = "d.example"
PREFIX = 'hosts."d.example"'


def factory(name, requires=(), options=None):
    """
    A real L{PluginFactory} named C{name}.
    """
    return type(name.capitalize() + "Factory", (PluginFactory,), {
        "name": name, "requires": tuple(requires),
        "options": options or {}, "instanceClass": object})()


def hostConfig(enabled, pluginTables=None, globalTables=None):
    data = {"hosts": {DOMAIN: {"plugins": list(enabled)}}}
    if pluginTables:
        data["hosts"][DOMAIN]["plugin"] = pluginTables
    if globalTables:
        data["plugin"] = globalTables
    return parseConfig(data, SOURCE).hosts[DOMAIN]


def names(resolved):
    return [f.name for f, _ in resolved]


def configError(enabled, factories, **tables):
    with pytest.raises(ConfigError) as info:
        resolvePlugins(hostConfig(enabled, **tables), factories, SOURCE)
    assert info.value.source == SOURCE
    return info.value


# -- ordering -----------------------------------------------------------------


def test_orderKeptWithoutRequirements():
    factories = {n: factory(n) for n in "xyz"}
    resolved = resolvePlugins(hostConfig(["z", "x", "y"]), factories, SOURCE)
    assert names(resolved) == ["z", "x", "y"]
    assert all(f is factories[f.name] for f, _ in resolved)


def test_requiredComeFirst():
    factories = {"a": factory("a"), "b": factory("b", ["a"]),
                 "c": factory("c", ["b"])}
    resolved = resolvePlugins(hostConfig(["c", "b", "a"]), factories, SOURCE)
    assert names(resolved) == ["a", "b", "c"]


def test_diamond():
    factories = {"base": factory("base"),
                 "left": factory("left", ["base"]),
                 "right": factory("right", ["base"]),
                 "top": factory("top", ["left", "right"])}
    resolved = resolvePlugins(hostConfig(["top", "right", "left", "base"]),
                              factories, SOURCE)
    order = names(resolved)
    assert sorted(order) == ["base", "left", "right", "top"]
    assert order.index("base") < order.index("left") < order.index("top")
    assert order.index("right") < order.index("top")


def test_onlyEnabledResolved():
    factories = {"a": factory("a"), "b": factory("b")}
    assert names(resolvePlugins(hostConfig(["b"]), factories, SOURCE)) == ["b"]
    assert resolvePlugins(hostConfig([]), factories, SOURCE) == []


# -- errors -------------------------------------------------------------------


def test_unknownPlugin():
    error = configError(["a", "nope"], {"a": factory("a"), "b": factory("b")})
    assert error.key == PREFIX + ".plugins"
    assert "'nope'" in error.reason
    assert "a, b" in error.reason


def test_optionsForUnknownPlugin():
    error = configError(["a"], {"a": factory("a")},
                        pluginTables={"ghost": {"x": 1}})
    assert error.key == PREFIX + ".plugin.ghost"


def test_missingRequirement():
    factories = {"a": factory("a"), "b": factory("b", ["a"])}
    error = configError(["b"], factories)
    assert error.key == PREFIX + ".plugins"
    assert "'b' requires 'a'" in error.reason


def test_missingRequirementUnknownToo():
    error = configError(["b"], {"b": factory("b", ["ghost"])})
    assert "'b' requires 'ghost'" in error.reason


@pytest.mark.parametrize("requires", [
    {"a": ["b"], "b": ["a"]},
    {"a": ["b"], "b": ["c"], "c": ["a"]},
    {"a": ["a"], "b": []},
], ids=["two", "three", "self"])
def test_cycle(requires):
    factories = {n: factory(n, r) for n, r in requires.items()}
    error = configError(list(requires), factories)
    assert error.key == PREFIX + ".plugins"
    assert "cycle" in error.reason
    assert "a -> " in error.reason


def test_badPluginOption():
    error = configError(["register"], {"register": plugins.register.register},
                        pluginTables={"register": {
                            "min_password_length": "eight"}})
    assert error.key == PREFIX + ".plugin.register.min_password_length"
    assert "expected int" in error.reason
    assert str(error).startswith(
        'test.toml: hosts."d.example".plugin.register.min_password_length: ')


def test_unknownPluginOption():
    error = configError(["register"], {"register": plugins.register.register},
                        pluginTables={"register": {"min_length": 3}})
    assert error.key == PREFIX + ".plugin.register.min_length"
    assert "min_password_length" in error.reason


def test_badGlobalPluginOption():
    """
    A bad value in the global C{[plugin.<name>]} table is reported for the
    host that uses it.
    """
    error = configError(["register"], {"register": plugins.register.register},
                        globalTables={"register": {"instructions": 5}})
    assert error.key == PREFIX + ".plugin.register.instructions"


def test_parsedOptions():
    resolved = resolvePlugins(
        hostConfig(["register", "ping"],
                   pluginTables={"register": {"min_password_length": 12}},
                   globalTables={"register": {"instructions": "Hi"}}),
        {"register": plugins.register.register, "ping": plugins.ping.ping},
        SOURCE)
    assert resolved == [
        (plugins.register.register, {"min_password_length": 12,
                                     "instructions": "Hi"}),
        (plugins.ping.ping, {}),
    ]


# -- discovery ----------------------------------------------------------------


def test_discoverPlugins():
    found = discoverPlugins()
    assert found["ping"] is plugins.ping.ping
    assert found["register"] is plugins.register.register
    for name, pluginFactory in found.items():
        assert pluginFactory.name == name
        verifyObject(IPluginFactory, pluginFactory)


# -- parseOptions -------------------------------------------------------------

SCHEMA = {"count": 3, "ratio": 0.5, "enabled": True, "label": "x",
          "names": ["a"]}


def test_defaultsFilled():
    assert parseOptions(SCHEMA, {"count": 7}) == {
        "count": 7, "ratio": 0.5, "enabled": True, "label": "x",
        "names": ["a"]}


def test_intAcceptedForFloat():
    assert parseOptions(SCHEMA, {"ratio": 2})["ratio"] == 2


@pytest.mark.parametrize("key, value", [
    ("count", True), ("count", 1.5), ("count", "3"), ("ratio", False),
    ("ratio", "0.5"), ("enabled", 1), ("enabled", "true"), ("label", 5),
    ("names", "a"),
])
def test_wrongType(key, value):
    with pytest.raises(PluginConfigError) as info:
        parseOptions(SCHEMA, {key: value})
    assert info.value.key == key
    assert type(SCHEMA[key]).__name__ in info.value.reason
    assert str(info.value).startswith(key + ": ")


def test_unknownOption():
    with pytest.raises(PluginConfigError) as info:
        parseOptions(SCHEMA, {"colour": "red"})
    assert info.value.key == "colour"
    assert "count, enabled, label, names, ratio" in info.value.reason


def test_noOptionsKnown():
    with pytest.raises(PluginConfigError) as info:
        parseOptions({}, {"x": 1})
    assert "none" in info.value.reason


def test_pluginFactoryBase():
    made = []

    class Instance:
        def __init__(self, context):
            made.append(context)

    class ExampleFactory(PluginFactory):
        name = "example"
        options = {"size": 1}
        instanceClass = Instance

    example = ExampleFactory()
    verifyObject(IPluginFactory, example)
    assert example.parseConfig({}) == {"size": 1}
    with pytest.raises(PluginConfigError):
        example.parseConfig({"size": "big"})
    instance = example.makeInstance("context")
    assert isinstance(instance, Instance) and made == ["context"]

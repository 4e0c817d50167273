"""
The plugin guide (C{docs/plugins.md}) documents the whole plugin API: a
method added to the host context without a line in the guide fails here.
"""

import os

from jabberd.context import HostContext

GUIDE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "docs", "plugins.md")


def test_everyContextMethodDocumented():
    with open(GUIDE, encoding="utf-8") as f:
        guide = f.read()
    public = [name for name in vars(HostContext) if not name.startswith("_")]
    missing = [name for name in public if "`%s(" % (name,) not in guide]
    assert public and missing == []


def test_exampleLinked():
    with open(GUIDE, encoding="utf-8") as f:
        guide = f.read()
    assert "examples/jabberd-echo" in guide
    assert os.path.isdir(os.path.join(os.path.dirname(GUIDE), "..",
                                      "examples", "jabberd-echo"))

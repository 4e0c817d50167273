"""
A few seconds of the benchmark (bench/run.py) on jabberd alone, to keep it
working: it must build its load generator, provision and start jabberd,
run every workload and print a table whose figures are all non-zero and
trustworthy (nothing lost, no failed login).  The figures themselves are
not checked: the machine running the tests is not a benchmark machine.
"""

import json
import os
import re
import subprocess
import sys

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ["messages", "latency", "presence", "logins", "logins-sha256", "memory"]

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/taskset") or os.cpu_count() < 2,
    reason="the benchmark pins processes to two CPUs with taskset")


@pytest.fixture(scope="module")
def smokeRun(tmp_path_factory):
    """
    Run the benchmark once, tiny; return C{(table text, raw results)}.
    """
    directory = tmp_path_factory.mktemp("bench")
    rawPath = directory / "results.json"
    result = subprocess.run(
        [sys.executable, os.path.join(REPOSITORY, "bench", "run.py"),
         "--servers", "jabberd", "--no-stub", "--runs", "1",
         "--duration", "0.7", "--warmup", "0.3", "--clients", "12",
         "--fanout", "4", "--rate", "300", "--sessions", "40",
         "--warm-sessions", "4", "--settle", "0.2", "--workdir", str(directory / "servers"),
         "--json", str(rawPath)],
        capture_output=True, text=True, timeout=120, cwd=REPOSITORY)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(rawPath) as f:
        return result.stdout, json.load(f)


def tableRows(text):
    """
    The data rows of the first Markdown table in C{text}, as cell lists.
    """
    lines = [line for line in text.split("\n\n")[0].splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_tableHasEveryWorkload(smokeRun):
    """
    The table has one row per workload, with a jabberd column.
    """
    text, _ = smokeRun
    header = text.splitlines()[0]
    assert header.startswith("| workload | jabberd")
    assert len(tableRows(text)) == len(WORKLOADS)


def test_figuresAreNonZero(smokeRun):
    """
    Every figure in the table is a positive number without the (!) mark
    of an untrustworthy run.
    """
    text, _ = smokeRun
    for row in tableRows(text):
        figure = row[1]
        assert re.fullmatch(r"[0-9][0-9,]*(\.[0-9]+)?", figure), row
        assert float(figure.replace(",", "")) > 0, row


def test_nothingLost(smokeRun):
    """
    The raw results record no lost stanza, error or failed login.
    """
    _, raw = smokeRun
    runs = raw["results"]["jabberd"]
    assert sorted(runs) == sorted(WORKLOADS)
    for workload, outcomes in runs.items():
        for outcome in outcomes:
            assert outcome["problems"] == [], (workload, outcome)


def test_serverWasBusy(smokeRun):
    """
    The throughput workloads kept the server's CPU measurably busy: the
    generator, not idling, set the pace.
    """
    _, raw = smokeRun
    for workload in ("messages", "presence", "logins"):
        outcome = raw["results"]["jabberd"][workload][0]
        assert outcome["serverCPU"] > 0.05, (workload, outcome)

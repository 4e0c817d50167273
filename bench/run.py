"""
Side-by-side benchmark of jabberd against Prosody and ejabberd.

    python bench/run.py                       # everything, about 25 minutes
    python bench/run.py --servers jabberd --workloads messages,logins --runs 1

Each server is provisioned once with the same accounts and rosters
(L{accounts}), then started afresh for every run of every workload, pinned
to one CPU while the load generator (C{xmppload}, built here from C with
gcc) runs on another.  The figure of a workload is the median of its runs.
The same workloads against C{xmppstub}, a server that does nothing, give
the generator's own ceiling.  See bench/README.md for the method.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from accounts import Layout  # noqa: E402
from servers import SERVERS, Stub  # noqa: E402
from workloads import WORKLOADS, Settings  # noqa: E402

ANCHORS = ("Prosody", "ejabberd")


def build(directory):
    """
    Compile C{xmppload} and C{xmppstub} into C{directory} when their
    sources are newer than the binaries.

    @return: C{(loadBinary, stubBinary)}.
    """
    os.makedirs(directory, exist_ok=True)
    headers = [os.path.join(HERE, h) for h in ("xmppnet.h", "xmppcrypto.h")]
    binaries = []
    for name in ("xmppload", "xmppstub"):
        source, binary = os.path.join(HERE, name + ".c"), os.path.join(directory, name)
        newest = max(os.path.getmtime(p) for p in [source] + headers)
        if not os.path.exists(binary) or os.path.getmtime(binary) < newest:
            subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, source], check=True)
        binaries.append(binary)
    return tuple(binaries)


def machine():
    """
    @return: a description of this machine and of the software measured.
    """
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "prosody", "ejabberd"],
        capture_output=True, text=True).stdout.split("\n")
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "nproc": os.cpu_count(),
            "cpu": model, "kernel": platform.release(),
            "python": platform.python_version(),
            "packages": [v for v in versions if v.strip()],
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def runOnce(server, workload, binary, settings):
    server.start(realtime=workload.realtimeIn(settings))
    try:
        return workload.run(binary, server, settings)
    finally:
        server.stop()


def median(outcomes):
    """
    @return: the run whose figure is the median (the lower middle one for
        an even count), or C{None}.
    """
    if not outcomes:
        return None
    ordered = sorted(outcomes, key=lambda o: o.value)
    return ordered[(len(ordered) - 1) // 2]


def benchmarkServer(server, workloads, binary, settings, runs, log):
    """
    @return: C{{workloadName: [Outcome, ...]}} for C{server}.
    """
    results = {}
    for workload in workloads:
        if server.name in ANCHORS and not workload.anchors:
            continue
        if isinstance(server, Stub) and not workload.onStub:
            continue
        results[workload.name] = []
        for run in range(runs):
            outcome = runOnce(server, workload, binary, settings)
            results[workload.name].append(outcome)
            log("%-9s %-14s run %d: %10.2f %s%s" % (
                server.name, workload.name, run + 1, outcome.value, workload.unit,
                "  [" + ", ".join(outcome.problems) + "]" if outcome.problems else ""))
    return results


def formatFigure(outcome):
    if outcome is None:
        return "n/a"
    value = outcome.value
    text = ("%.2f" % (value,) if value < 10 else "%.1f" % (value,) if value < 100
            else "{:,.0f}".format(value))
    return text + (" (!)" if outcome.problems else "")


def formatRatio(ours, theirs):
    if ours is None or theirs is None or not theirs.value:
        return "n/a"
    return "%.2f" % (ours.value / theirs.value,)


def table(results, workloads, settings, serverNames):
    """
    @return: the Markdown table of medians and ratios, jabberd first.
    """
    anchors = [n for n in ANCHORS if n in serverNames]
    head = (["workload"] + serverNames
            + ["jabberd ÷ %s" % (a,) for a in anchors if "jabberd" in serverNames]
            + (["generator ceiling (stub)"] if "stub" in results else []))
    rows = [head, ["---"] * len(head)]
    for w in workloads:
        medians = {n: median(results.get(n, {}).get(w.name, [])) for n in serverNames}
        row = [w.title(settings)] + [formatFigure(medians[n]) for n in serverNames]
        if "jabberd" in serverNames:
            row += [formatRatio(medians["jabberd"], medians[a]) for a in anchors]
        if "stub" in results:
            row.append(formatFigure(median(results["stub"].get(w.name, []))))
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def cpuTable(results, workloads, serverNames):
    """
    @return: a Markdown table of server and generator CPU use (fractions
        of one core) in the median runs.
    """
    names = serverNames + (["stub"] if "stub" in results else [])
    head = ["workload"] + ["%s: server / generator CPU" % (n,) for n in names]
    rows = [head, ["---"] * len(head)]
    for w in workloads:
        row = [w.name]
        for n in names:
            m = median(results.get(n, {}).get(w.name, []))
            if m is None or m.serverCPU is None:
                row.append("n/a")
            else:
                row.append("%.0f%% / %.0f%%" % (100 * m.serverCPU, 100 * m.generatorCPU))
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def efficiencyTable(results, workloads, settings, serverNames):
    """
    @return: a Markdown table of each throughput figure divided by the
        server's CPU use in that run: the rate one fully busy core would
        give.  On a machine shared with other work, where a server may not
        get all of its core, this is the steadier comparison.
    """
    head = ["workload, per server CPU-second"] + serverNames
    rows = [head, ["---"] * len(head)]
    for w in workloads:
        if not w.higherIsBetter:
            continue
        row = [w.title(settings)]
        for n in serverNames:
            m = median(results.get(n, {}).get(w.name, []))
            ok = m is not None and m.serverCPU
            row.append("{:,.0f}".format(m.value / m.serverCPU) if ok else "n/a")
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def parseArguments(argv):
    d = Settings()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--servers", default="jabberd,prosody,ejabberd",
                   help="comma-separated, from: %s" % (", ".join(SERVERS),))
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="comma-separated, from: %s" % (", ".join(WORKLOADS),))
    p.add_argument("--runs", type=int, default=3, help="runs per workload (median)")
    p.add_argument("--no-stub", action="store_true",
                   help="skip the generator-ceiling runs against xmppstub")
    p.add_argument("--duration", type=float, default=d.duration,
                   help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=d.warmup)
    p.add_argument("--clients", type=int, default=d.clients)
    p.add_argument("--window", type=int, default=d.window,
                   help="messages in flight per client (messages workload)")
    p.add_argument("--rate", type=float, default=d.rate,
                   help="messages/s of the latency workload")
    p.add_argument("--fanout", type=int, default=d.fanout, help="contacts per roster")
    p.add_argument("--sessions", type=int, default=d.sessions,
                   help="idle sessions of the memory workload")
    p.add_argument("--warm-sessions", type=int, default=d.warmSessions)
    p.add_argument("--settle", type=float, default=d.settle,
                   help="seconds to let login traffic calm down before measuring")
    p.add_argument("--login-concurrency", type=int, default=d.loginConcurrency)
    p.add_argument("--no-realtime", action="store_true",
                   help="run the latency workload at normal priority, not SCHED_FIFO")
    p.add_argument("--server-cpu", default="0", help="taskset CPU list of the servers")
    p.add_argument("--load-cpu", default=d.loadCPU, help="taskset CPU list of xmppload")
    p.add_argument("--workdir", help="keep server directories here (default: a temporary one)")
    p.add_argument("--json", help="also write every run's raw results to this file")
    p.add_argument("--from-json", metavar="FILE",
                   help="run nothing: print the tables of results saved with --json")
    return p.parse_args(argv)


def settingsFrom(args):
    fanout = min(args.fanout, (args.clients - 1) // 2 * 2)
    return Settings(clients=args.clients, window=args.window, rate=args.rate,
                    sessions=args.sessions, warmSessions=args.warm_sessions,
                    duration=args.duration, warmup=args.warmup,
                    loginConcurrency=args.login_concurrency, fanout=fanout,
                    settle=args.settle, loadCPU=args.load_cpu,
                    realtime=not args.no_realtime)


def makeServers(args, settings, workdir, stubBinary):
    layout = Layout(settings.clients, settings.sessions + settings.warmSessions,
                    settings.fanout)
    servers = []
    for key in args.servers.split(","):
        server = SERVERS[key.strip().lower()](os.path.join(workdir, key), layout,
                                              args.server_cpu)
        reason = server.available()
        if reason:
            raise SystemExit("run.py: cannot run %s: %s" % (server.name, reason))
        servers.append(server)
    if not args.no_stub:
        servers.append(Stub(os.path.join(workdir, "stub"), layout, args.server_cpu,
                            stubBinary))
    return servers


def loadResults(path):
    """
    @return: C{(settings, results)} saved by C{--json}.
    """
    from workloads import Outcome
    with open(path) as f:
        saved = json.load(f)
    results = {server: {w: [Outcome(**o) for o in runs] for w, runs in byWorkload.items()}
               for server, byWorkload in saved["results"].items()}
    return Settings(**saved["settings"]), results


def printTables(results, workloads, settings):
    names = [n for n in results if n != "stub"]
    print(table(results, workloads, settings, names))
    print()
    print(cpuTable(results, workloads, names))
    print()
    print(efficiencyTable(results, workloads, settings, names))


def main(argv=None):
    args = parseArguments(argv)
    settings = settingsFrom(args)
    workloads = [WORKLOADS[w.strip()] for w in args.workloads.split(",")]
    if args.from_json:
        settings, results = loadResults(args.from_json)
        printTables(results, workloads, settings)
        return 0
    workdir = args.workdir or tempfile.mkdtemp(prefix="jabberd-bench-")
    # mkdtemp makes the directory private to us; the anchors run as their
    # own system users and must reach their directories inside it.
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    loadBinary, stubBinary = build(os.path.join(HERE, "build"))
    info = machine()
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    log("machine: %s" % (json.dumps(info),))
    results = {}
    try:
        for server in makeServers(args, settings, workdir, stubBinary):
            started = time.monotonic()
            server.provision()
            log("%s: provisioned in %.1fs" % (server.name, time.monotonic() - started))
            results[server.name] = benchmarkServer(server, workloads, loadBinary,
                                                   settings, args.runs, log)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    printTables(results, workloads, settings)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "settings": settings.__dict__,
                       "results": {s: {w: [o.__dict__ for o in runs]
                                       for w, runs in byWorkload.items()}
                                   for s, byWorkload in results.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

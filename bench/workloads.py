"""
The benchmark's workloads: how each drives C{xmppload} against a running
server and which figure it reads off.

Every run gets a freshly started server.  The generator says START and
END on stdout when its measured window opens and closes (after logging
in its clients and a warm-up); the server's CPU time is sampled at those
moments, so both CPU figures cover the same window as the result.
"""

import json
import subprocess
import time
from dataclasses import dataclass, field

from accounts import PASSWORD, DOMAIN
from servers import realtimePrefix


@dataclass
class Settings:
    """
    The knobs of one benchmark, shared by all servers.
    """

    clients: int = 1000
    window: int = 4
    presenceWindow: int = 1
    rate: float = 2000
    sessions: int = 5000
    warmSessions: int = 100
    duration: float = 10
    warmup: float = 2
    loginConcurrency: int = 32
    setupConcurrency: int = 64
    settle: float = 1
    realtime: bool = True
    fanout: int = 20
    loadCPU: str = "1"


@dataclass
class Outcome:
    """
    One run of one workload on one server.

    @ivar value: the workload's figure.
    @ivar problems: why the figure does not count (lost stanzas, failed
        logins, ...); empty when it does.
    """

    value: float
    serverCPU: float = None
    generatorCPU: float = None
    problems: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)


def generatorCommand(binary, server, settings, *arguments, realtime=False):
    prefix = realtimePrefix() if realtime else []
    return (prefix + ["taskset", "-c", settings.loadCPU, binary, "--port", str(server.port),
             "--host", DOMAIN, "--password", PASSWORD, "--settle", str(settings.settle),
             "--concurrency", str(settings.setupConcurrency)]
            + [str(a) for a in arguments])


def problemsOf(result):
    """
    @return: what went wrong in a generator result, as short phrases.
    """
    problems = []
    for key in ("lost", "errors", "disconnects", "login_failures"):
        if result.get(key):
            problems.append("%s %s" % (result[key], key.replace("_", " ")))
    return problems


def runGenerator(command, server):
    """
    Run the generator to completion, sampling the server's CPU time at
    START and END.

    @return: C{(result, serverCPU)}: the generator's JSON result and the
        server's CPU use over the window as a fraction of one core.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    marks = {}
    result = None
    for line in process.stdout:
        line = line.strip()
        if line in ("START", "END"):
            marks[line] = (time.monotonic(), server.stat()[0])
        elif line.startswith("{"):
            result = json.loads(line)
    process.wait()
    if result is None:
        raise RuntimeError("xmppload failed (status %d)" % (process.returncode,))
    serverCPU = None
    if "START" in marks and "END" in marks:
        (t0, c0), (t1, c1) = marks["START"], marks["END"]
        serverCPU = (c1 - c0) / (t1 - t0)
    return result, serverCPU


class Workload:
    """
    @cvar name: the command-line name.
    @cvar label: the row title in the table.
    @cvar unit: the figure's unit.
    @cvar higherIsBetter: whether the ratio reads "jabberd does better"
        above 1.
    @cvar realtime: whether the server and the generator run at SCHED_FIFO
        priority (when L{Settings.realtime} allows it).
    @cvar anchors: whether the anchors run it (they cannot run what they
        do not support).
    """

    name = label = unit = None
    higherIsBetter = True
    realtime = False
    anchors = True
    onStub = True

    def title(self, settings):
        """
        @return: the row title in the table, with the settings that matter.
        """
        return self.label

    def arguments(self, settings):
        raise NotImplementedError()

    def figure(self, result, settings):
        return result["rate"]

    def realtimeIn(self, settings):
        return self.realtime and settings.realtime

    def run(self, binary, server, settings):
        command = generatorCommand(binary, server, settings, *self.arguments(settings),
                                   realtime=self.realtimeIn(settings))
        result, serverCPU = runGenerator(command, server)
        return Outcome(self.figure(result, settings), serverCPU,
                       result["generator_cpu"], problemsOf(result), result)


class Messages(Workload):
    name = "messages"
    unit = "msg/s"

    def title(self, s):
        return "chat messages to full JIDs, %d clients, max delivered/s (0 lost)" % (
            s.clients,)

    def arguments(self, s):
        return ["--mode", "messages", "--clients", s.clients, "--window", s.window,
                "--duration", s.duration, "--warmup", s.warmup]


class Latency(Workload):
    """
    Latency is measured below a server's capacity, where each stanza is
    handled within a fraction of a millisecond; a process sharing the CPU
    would add its time slice to the tail.  So both sides run at SCHED_FIFO
    priority here (unless disabled), which on a dedicated machine changes
    nothing.
    """

    name = "latency"
    unit = "ms"
    higherIsBetter = False
    realtime = True

    def title(self, s):
        return "latency p99 at a fixed %g messages/s, ms (lower is better)" % (s.rate,)

    def arguments(self, s):
        return ["--mode", "latency", "--clients", s.clients, "--rate", s.rate,
                "--duration", s.duration, "--warmup", s.warmup]

    def figure(self, result, settings):
        return result["p99_ms"]


class Presence(Workload):
    name = "presence"
    unit = "deliveries/s"

    def title(self, s):
        return "presence updates to %d-contact rosters, deliveries/s" % (s.fanout,)

    def arguments(self, s):
        return ["--mode", "presence", "--clients", s.clients,
                "--window", s.presenceWindow, "--fanout", s.fanout,
                "--duration", s.duration, "--warmup", s.warmup]


class Logins(Workload):
    name = "logins"
    label = "logins/s (SCRAM-SHA-1, bind, session; hashed storage)"
    unit = "logins/s"
    mechanism = "SCRAM-SHA-1"

    def arguments(self, s):
        return ["--mode", "logins", "--clients", s.clients,
                "--concurrency", s.loginConcurrency, "--mechanism", self.mechanism,
                "--duration", s.duration, "--warmup", min(s.warmup, 1)]


class Logins256(Logins):
    name = "logins-sha256"
    label = "logins/s (SCRAM-SHA-256, bind, session; hashed storage)"
    mechanism = "SCRAM-SHA-256"
    anchors = False


class Memory(Workload):
    """
    RSS growth per idle session: log in a few sessions first so that
    one-off allocations (code paths warming up, caches) fall before the
    baseline, then many more; the RSS difference divided by their number.
    """

    name = "memory"
    unit = "kB"
    higherIsBetter = False
    onStub = False

    def title(self, s):
        return "memory per idle session, %d sessions, kB (lower is better)" % (s.sessions,)

    def run(self, binary, server, settings):
        command = generatorCommand(
            binary, server, settings, "--mode", "idle", "--first", settings.clients,
            "--warm", settings.warmSessions, "--clients", settings.sessions)
        process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        try:
            return self._measure(process, server, 3 * settings.settle)
        finally:
            process.stdin.close()
            process.wait()

    def _measure(self, process, server, settle):
        if not process.stdout.readline().startswith("WARM"):
            raise RuntimeError("xmppload idle: no WARM line")
        time.sleep(settle)
        before = server.stat()[1]
        process.stdin.write("go\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("xmppload idle: no READY line")
        result = json.loads(line.split(" ", 1)[1])
        time.sleep(settle)
        after = server.stat()[1]
        sessions = max(result["sessions"], 1)
        problems = ["%d login failures" % (result["failures"],)] if result["failures"] else []
        result.update(rss_before_kb=before, rss_after_kb=after)
        return Outcome((after - before) / sessions, None, None, problems, result)


WORKLOADS = {w.name: w for w in (Messages(), Latency(), Presence(), Logins(),
                                  Logins256(), Memory())}

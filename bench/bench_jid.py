"""
Rough timing of L{jabberd.jid.parseJID}: parses per second with the cache
hit, and uncached (ASCII fast path, and non-ASCII through PRECIS and IDNA).

Run from the repository root: C{python bench/bench_jid.py}.  Not a test.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jabberd import jid  # noqa: E402

COUNT = 20000


def rate(texts, repeat=1):
    """
    @return: parses per second over C{texts}, C{repeat} times.
    """
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            jid.parseJID(text)
    return len(texts) * repeat / (time.perf_counter() - start)


def report(label, value, unit="parses/s"):
    print(f"{label:<36} {value:>12,.0f} {unit}")


def main():
    ascii = [f"User{i}@Example{i % 50}.com/Res {i}" for i in range(COUNT)]
    unicode = [f"J\u00fcrgen{i}@m\u00fcnchen{i % 50}.de/\u265a{i}"
               for i in range(COUNT)]
    jid.setCacheSize(0)
    report("uncached, ASCII (fast path)", rate(ascii))
    report("uncached, non-ASCII (PRECIS, IDNA)", rate(unicode))
    jid.setCacheSize(COUNT)
    rate(ascii)
    report("cached, hit", rate(ascii, repeat=10))
    j = jid.parseJID(ascii[0])
    start = time.perf_counter()
    for _ in range(COUNT * 10):
        hash(j), str(j), j == j, j.userhostJID()
    report("hash+str+eq+userhostJID",
           COUNT * 10 / (time.perf_counter() - start), "rounds/s")
    jid.setCacheSize(jid.DEFAULT_CACHE_SIZE)


if __name__ == "__main__":
    main()

"""Bench reading the settings: the import cost, the first get_settings() and a warm one."""

# Run as `python -m tests.bench.bench_settings` (`make bench` runs it too). The
# API function reads its settings on every request, so a warm call must stay
# cheap; the first call and the import are part of every cold start. Each
# figure is the median over fresh processes (one discarded first run warms the
# bytecode cache), in the `local` stage's environment.

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from tests.conftest import ROOT, local_stage_env

RUNS = 9
WARM_CALLS = 20_000

# Each child imports the app as Lambda does, then calls get_settings() once and
# WARM_CALLS times more, and prints its figures as one JSON object.
CHILD = """
import json, sys, time
start = time.perf_counter()
import app
figures = {"import_ms": (time.perf_counter() - start) * 1000}
from chalicelib import runtime
start = time.perf_counter()
runtime.get_settings()
figures["first_ms"] = (time.perf_counter() - start) * 1000
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    runtime.get_settings()
figures["warm_us"] = (time.perf_counter() - start) / int(sys.argv[1]) * 1e6
print(json.dumps(figures))
"""

# Within `import app`, what the settings module costs with what it imports first
# (`python -X importtime`, cumulative µs): the part of the import that is ours to judge.
IMPORTS = ("chalicelib.core.settings",)


def _env() -> dict[str, str]:
    env = {**os.environ, **local_stage_env()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(WARM_CALLS)],
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def import_times() -> dict[str, float]:
    """Cumulative import time in ms of each of IMPORTS inside one `import app`."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    found = {}
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in IMPORTS:
            found[parts[2].strip()] = int(parts[1]) / 1000
    return found


def main() -> None:
    run()  # warms the bytecode cache; not counted
    runs = [run() for _ in range(RUNS)]
    profiles = [import_times() for _ in range(RUNS)]
    figure = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    print(f"settings, medians of {RUNS} fresh processes (python {sys.version.split()[0]})")
    print(f"  import app                                 {figure['import_ms']:8.1f} ms")
    for module in IMPORTS:
        ms = statistics.median(p.get(module, 0.0) for p in profiles)
        print(f"    of which {module:<32}  {ms:8.1f} ms (cumulative, -X importtime)")
    print(f"  first get_settings() after import app     {figure['first_ms']:8.2f} ms")
    print(f"  warm get_settings() ({WARM_CALLS} calls)      {figure['warm_us']:8.1f} µs")


if __name__ == "__main__":
    main()

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

# Each child prints one JSON object. `module`: the settings module imported
# after pydantic (which the app loads anyway), so its figure is what settings
# add; `app`: `import app` as Lambda does, then the first and warm calls.
CHILD = """
import json, sys, time
kind, warm_calls = sys.argv[1], int(sys.argv[2])
figures = {}
if kind == "module":
    import pydantic
    start = time.perf_counter()
    import chalicelib.core.settings
    figures["import_ms"] = (time.perf_counter() - start) * 1000
else:
    start = time.perf_counter()
    import app
    figures["import_ms"] = (time.perf_counter() - start) * 1000
from chalicelib import runtime
start = time.perf_counter()
runtime.get_settings()
figures["first_ms"] = (time.perf_counter() - start) * 1000
start = time.perf_counter()
for _ in range(warm_calls):
    runtime.get_settings()
figures["warm_us"] = (time.perf_counter() - start) / warm_calls * 1e6
print(json.dumps(figures))
"""


def run(kind: str) -> dict[str, float]:
    env = {**os.environ, **local_stage_env()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(WARM_CALLS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def medians(kind: str) -> dict[str, float]:
    run(kind)  # warms the bytecode cache; not counted
    runs = [run(kind) for _ in range(RUNS)]
    return {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def main() -> None:
    module = medians("module")
    app = medians("app")
    print(f"settings, medians of {RUNS} fresh processes (python {sys.version.split()[0]})")
    print(f"  import chalicelib.core.settings after pydantic  {module['import_ms']:8.1f} ms")
    print(f"  import app                                      {app['import_ms']:8.1f} ms")
    print(f"  first get_settings() after import app          {app['first_ms']:8.2f} ms")
    print(f"  warm get_settings() ({WARM_CALLS} calls)           {app['warm_us']:8.1f} µs")


if __name__ == "__main__":
    main()

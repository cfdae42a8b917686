"""Bench POST /consultations against a one-PutItem Chalice reference: cold start, AWS calls, warm latency."""

# Run as `python -m tests.bench.bench_intake` (`make bench`); it ends with a
# per-package breakdown of `import app` (`--no-importtime` skips it), and with
# `--python INTERPRETER` (or BENCH_PYTHONS) it measures the cold start under
# other Pythons too. Both apps are invoked the same
# way, as Lambda does: a Lambda-proxy event passed to the Chalice app object.
# They talk over HTTP to one moto server started in this process, and every
# measured request finds the desk table empty (see EmptyTable).

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from itertools import count
from typing import Any

from tests.bench.child import LambdaContext, proxy_event
from tests.conftest import REGION, ROOT, local_stage_env, valid_payload

BENCH_DIR = ROOT / "tests" / "bench"
CHILD = BENCH_DIR / "child.py"

COLD_RUNS = 7
WARM_REQUESTS = 200
WARMUP_REQUESTS = 20

# Targets from the issue.
MAX_DYNAMODB_CALLS = 1
MAX_COLD_RATIO = 1.3
MAX_WARM_P50_RATIO = 1.5

OURS, REFERENCE = "ours", "reference"


class BenchError(RuntimeError):
    """A handler failed or a child process crashed: the figures would be meaningless."""


# --- environment -------------------------------------------------------------


def bench_env(endpoint: str) -> dict[str, str]:
    """What both handlers see: the `local` stage, fake credentials, moto's endpoint."""
    return {
        **local_stage_env(),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # Like Lambda: no shared config or credentials files to read.
        "AWS_CONFIG_FILE": str(BENCH_DIR / "no-such-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(BENCH_DIR / "no-such-aws-credentials"),
        # Every bench request comes from one source address.
        "RATE_LIMIT_PER_HOUR": "1000000",
    }


def apply_env(env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            del os.environ[name]
    os.environ.update(env)


def child_env(pycache: str) -> dict[str, str]:
    """The bench's environment for a child, with its own bytecode cache.

    With a private PYTHONPYCACHEPREFIX every module, the project's included,
    is compiled once (in the discarded first runs) and read from bytecode
    afterwards, whatever the state of the __pycache__ folders or
    PYTHONDONTWRITEBYTECODE; nothing is written into the project.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(ROOT), env.get("PYTHONPATH", "")) if part
    )
    return env


class Payloads:
    """Distinct valid bodies: the desk refuses a repeat of the same payload within 10 minutes."""

    def __init__(self) -> None:
        self._tag = uuid.uuid4().hex[:8]
        self._numbers = count()

    def body(self, *, ascii_only: bool = False) -> str:
        """A JSON body; `ascii_only` escapes non-ASCII text (for a child's command line)."""
        n = next(self._numbers)
        payload = valid_payload(
            email=f"bench-{self._tag}-{n}@example.com",
            message=f"{valid_payload()['message']}\n(bench {self._tag}-{n})",
        )
        return json.dumps(payload, ensure_ascii=ascii_only)


class EmptyTable:
    """Drop and recreate the desk table (untimed) so every measured request finds it empty.

    moto deep-copies the whole table, streams included, once per item of a
    TransactWriteItems: its cost grows with the table, which DynamoDB's does not.
    """

    def __init__(self, dynamodb: Any, env: dict[str, str]) -> None:
        self._dynamodb = dynamodb
        self._env = env

    def __call__(self) -> None:
        from infra.local.resources import create_tables

        name = self._env["TABLE_NAME"]
        if name in self._dynamodb.list_tables()["TableNames"]:
            self._dynamodb.delete_table(TableName=name)
        create_tables(self._dynamodb, self._env)


# --- figures -------------------------------------------------------------------


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def ratio(ours: float, reference: float) -> float:
    return ours / reference if reference else float("inf")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# --- (a) cold start ------------------------------------------------------------


@dataclass
class ColdRun:
    import_ms: float
    first_request_ms: float
    total_ms: float
    http_ms: float
    wall_ms: float
    modules_at_import: int
    modules_at_first_request: list[str]
    calls: dict[str, int]


def cold_start(which: str, body: str, env: dict[str, str], python: str = sys.executable) -> ColdRun:
    """One fresh process: import the handler and send its first request."""
    started = time.perf_counter()
    proc = subprocess.run(
        [python, str(CHILD), which, body],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise BenchError(f"{which} child exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["status"] >= 300:
        raise BenchError(f"{which} first request answered {result['status']}: {result['body']}")
    return ColdRun(
        import_ms=result["import_ms"],
        first_request_ms=result["first_request_ms"],
        total_ms=result["total_ms"],
        http_ms=result["http_ms"],
        wall_ms=wall_ms,
        modules_at_import=result["modules_at_import"],
        modules_at_first_request=result["modules_at_first_request"],
        calls=result["calls"],
    )


def cold_starts(
    payloads: Payloads,
    empty: EmptyTable,
    runs: int,
    env: dict[str, str],
    python: str = sys.executable,
) -> dict[str, list[ColdRun]]:
    # One discarded pair: writes the bytecode cache and warms the page cache.
    for which in (OURS, REFERENCE):
        empty()
        cold_start(which, payloads.body(ascii_only=True), env, python)
    results: dict[str, list[ColdRun]] = {OURS: [], REFERENCE: []}
    for i in range(runs):
        # Alternate, and swap the order every round, so both share the noise.
        order = (OURS, REFERENCE) if i % 2 == 0 else (REFERENCE, OURS)
        for which in order:
            empty()
            results[which].append(cold_start(which, payloads.body(ascii_only=True), env, python))
    return results


# --- (b) AWS calls -------------------------------------------------------------


@dataclass
class AwsProbe:
    """botocore event handlers: API calls and HTTP attempts per operation, and their times.

    `seconds` is the time inside botocore calls (parameter build to parsed
    answer), `http_seconds` the part spent waiting for the HTTP answer (send
    to the start of parsing), which here includes moto's own work.
    """

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    http_seconds: float = 0.0
    _sent: float | None = None

    UNIQUE_ID = "dx-desk-bench-probe"

    def clear(self) -> None:
        self.calls.clear()
        self.attempts.clear()
        self.seconds = 0.0
        self.http_seconds = 0.0
        self._sent = None

    def attach(self, events: Any) -> None:
        """Register on a botocore session's or client's event emitter (idempotent)."""
        handlers: dict[str, Callable[..., None]] = {
            "before-parameter-build": self._started,
            "before-call": self._call,
            "before-send": self._send,
            "before-parse": self._answered,
            "after-call": self._finished,
            "after-call-error": self._finished,
        }
        for event, handler in handlers.items():
            events.register(event, handler, unique_id=f"{self.UNIQUE_ID}-{event}")

    def _started(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _call(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _send(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.attempts[f"{service}.{operation}"] += 1
        self._sent = time.perf_counter()

    def _answered(self, **_: Any) -> None:
        if self._sent is not None:
            self.http_seconds += time.perf_counter() - self._sent
            self._sent = None

    def _finished(self, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_started", None)
        if started is not None:
            self.seconds += time.perf_counter() - started


def dynamodb_total(calls: Counter[str] | dict[str, int]) -> int:
    return sum(n for key, n in calls.items() if key.startswith("dynamodb."))


def describe_calls(calls: Counter[str]) -> str:
    dynamodb = sum(n for key, n in calls.items() if key.startswith("dynamodb."))
    ses = sum(n for key, n in calls.items() if key.split(".")[0] in ("ses", "sesv2"))
    listed = ", ".join(f"{key}={n}" for key, n in sorted(calls.items())) or "no calls"
    return f"{listed}  (dynamodb total {dynamodb}, ses {ses})"


def calls_ok(calls: Counter[str]) -> bool:
    dynamodb = sum(n for key, n in calls.items() if key.startswith("dynamodb."))
    ses = sum(n for key, n in calls.items() if key.split(".")[0] in ("ses", "sesv2"))
    others = sum(n for key, n in calls.items() if not key.startswith(("dynamodb.", "ses")))
    return dynamodb <= MAX_DYNAMODB_CALLS and ses == 0 and others == 0


# --- (c) in-process invocation --------------------------------------------------


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def invoke(name: str, handler: Handler, body: str) -> float:
    """Call the handler with a fresh event; the handler's wall time in ms."""
    event, context = proxy_event(body), LambdaContext()
    started = time.perf_counter()
    response = handler(event, context)
    elapsed = (time.perf_counter() - started) * 1000
    if response["statusCode"] >= 300:
        raise BenchError(f"{name} answered {response['statusCode']}: {response['body']}")
    return elapsed


@dataclass
class Warm:
    total_ms: list[float] = field(default_factory=list)
    without_http_ms: list[float] = field(default_factory=list)
    outside_aws_ms: list[float] = field(default_factory=list)
    # Requests by how many DynamoDB calls each made.
    dynamodb_calls: Counter[int] = field(default_factory=Counter)


def warm_latency(
    handlers: dict[str, Handler],
    probe: AwsProbe,
    payloads: Payloads,
    empty: EmptyTable,
    requests: int,
) -> dict[str, Warm]:
    results = {name: Warm() for name in handlers}
    for _ in range(WARMUP_REQUESTS):
        for name, handler in handlers.items():
            empty()
            invoke(name, handler, payloads.body())
    names = list(handlers)
    for i in range(requests):
        for name in names if i % 2 == 0 else reversed(names):
            body = payloads.body()
            empty()
            probe.clear()
            elapsed = invoke(name, handlers[name], body)
            results[name].total_ms.append(elapsed)
            results[name].without_http_ms.append(elapsed - probe.http_seconds * 1000)
            results[name].outside_aws_ms.append(elapsed - probe.seconds * 1000)
            results[name].dynamodb_calls[dynamodb_total(probe.calls)] += 1
    return results


# --- import profile ---------------------------------------------------------------


def import_times(module: str, env: dict[str, str]) -> dict[str, int]:
    """Module → import self time in µs, from one `python -X importtime -c "import <module>"`."""
    env = {**env, "PYTHONPATH": os.pathsep.join((env["PYTHONPATH"], str(BENCH_DIR)))}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|", 2)
        times[name.strip()] = int(own)
    return times


def by_package(times: dict[str, int]) -> Counter[str]:
    packages: Counter[str] = Counter()
    for name, us in times.items():
        packages[name.split(".")[0]] += us
    return packages


def import_profile(env: dict[str, str], top: int = 8) -> Iterator[str]:
    """Where `import app` spends its time, and what it imports beyond the reference."""
    ours, reference = import_times("app", env), import_times("reference_app", env)
    extra = {name: us for name, us in ours.items() if name not in reference}
    yield (
        f"  import app: {sum(ours.values()) / 1000:.0f} ms self time in {len(ours)} modules; "
        f"import reference_app: {sum(reference.values()) / 1000:.0f} ms in {len(reference)}"
    )
    yield f"  modules only app imports: {sum(extra.values()) / 1000:.0f} ms in {len(extra)} modules"
    for package, us in by_package(extra).most_common(top):
        yield f"    {package:<28} {us / 1000:6.1f} ms"
    yield "  all of app's imports, by top-level package:"
    for package, us in by_package(ours).most_common(top):
        yield f"    {package:<28} {us / 1000:6.1f} ms"
    yield "  slowest single modules (self time):"
    for name, us in sorted(ours.items(), key=lambda item: -item[1])[:top]:
        yield f"    {name:<40} {us / 1000:6.1f} ms"


# --- other interpreters --------------------------------------------------------------


def python_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def python_usable(python: str) -> bool:
    """Whether `python` runs and has the app's dependencies (else it is named and skipped)."""
    probe = subprocess.run(
        [python, "-c", "import boto3, chalice, pydantic, email_validator"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        print(f"(e) skipped {python}: not runnable or without the app's dependencies")
    return probe.returncode == 0


def report_other_pythons(
    here: dict[str, list[ColdRun]], others: dict[str, dict[str, list[ColdRun]]]
) -> None:
    print(f"(e) cold start by Python version: medians of {len(here[OURS])} alternated runs each")
    print(
        f"  {'python':<10} {'import app':>11} {'import ref':>11} {'ratio':>7} "
        f"{'import+first':>13} {'ref':>8} {'ratio':>7}  range of the ratio"
    )
    for python, cold in [(sys.executable, here), *others.items()]:

        def median(figure: Callable[[ColdRun], float], which: str, runs: Any = cold) -> float:
            return p50([figure(r) for r in runs[which]])

        imports = median(lambda r: r.import_ms, OURS), median(lambda r: r.import_ms, REFERENCE)
        totals = median(lambda r: r.total_ms, OURS), median(lambda r: r.total_ms, REFERENCE)
        paired = sorted(
            ratio(o.total_ms, r.total_ms) for o, r in zip(cold[OURS], cold[REFERENCE], strict=True)
        )
        print(
            f"  {python_version(python):<10} {imports[0]:9.1f}ms {imports[1]:9.1f}ms "
            f"{ratio(*imports):6.2f}x {totals[0]:11.1f}ms {totals[1]:6.1f}ms "
            f"{ratio(*totals):6.2f}x  {paired[0]:.2f}x to {paired[-1]:.2f}x"
        )
    print()


# --- report -----------------------------------------------------------------------


def versions() -> str:
    names = ("boto3", "botocore", "chalice", "pydantic", "moto")
    found = " · ".join(f"{name} {metadata.version(name)}" for name in names)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"Python {platform.python_version()} · {found} · nproc {cpus}"


HEADER = f"  {'':<44} {'ours ms':>9} {'ref ms':>10} {'ratio':>8}  target"


def row(label: str, ours: float, reference: float, target: str = "") -> str:
    return f"  {label:<44} {ours:9.1f} {reference:10.1f} {ratio(ours, reference):7.2f}x  {target}"


def report_cold(cold: dict[str, list[ColdRun]]) -> tuple[float, bool]:
    def median(figure: Callable[[ColdRun], float], which: str) -> float:
        return p50([figure(r) for r in cold[which]])

    def both(figure: Callable[[ColdRun], float]) -> tuple[float, float]:
        return median(figure, OURS), median(figure, REFERENCE)

    total = both(lambda r: r.total_ms)
    cold_ratio = ratio(*total)
    met = cold_ratio <= MAX_COLD_RATIO
    print(f"(a) cold start: fresh process, medians of {len(cold[OURS])} runs each (alternated)")
    print(HEADER)
    print(row("in child: import handler module", *both(lambda r: r.import_ms)))
    print(row("in child: first request", *both(lambda r: r.first_request_ms)))
    print(row("in child: import + first request", *total, f"<= {MAX_COLD_RATIO}x {verdict(met)}"))
    print(row("  the same without the HTTP round trip", *both(lambda r: r.total_ms - r.http_ms)))
    print(row("parent: process wall time", *both(lambda r: r.wall_ms)))
    paired = sorted(
        ratio(o.total_ms, r.total_ms) for o, r in zip(cold[OURS], cold[REFERENCE], strict=True)
    )
    print(
        f"  run-by-run ratio of import + first request: {paired[0]:.2f}x to {paired[-1]:.2f}x "
        "(noise on this machine)"
    )
    for which in (OURS, REFERENCE):
        seen = Counter(describe_calls(Counter(run.calls)) for run in cold[which])
        for described, runs in sorted(seen.items()):
            print(f"  {which}: first request in a fresh process: {described} ({runs} runs)")
    for which in (OURS, REFERENCE):
        last = cold[which][-1]
        lazy = last.modules_at_first_request
        packages = ", ".join(sorted({name.split(".")[0] for name in lazy})) or "none"
        print(
            f"  {which}: {last.modules_at_import} modules imported at init, "
            f"{len(lazy)} more during the first request ({packages})"
        )
    print()
    return cold_ratio, met


def report_calls(
    first: AwsProbe,
    warm: AwsProbe,
    reference: AwsProbe,
    cold: dict[str, list[ColdRun]],
    later: Warm,
) -> bool:
    cold_ok = all(calls_ok(Counter(run.calls)) for run in cold[OURS])
    later_ok = max(later.dynamodb_calls, default=0) <= MAX_DYNAMODB_CALLS
    met = calls_ok(first.calls) and calls_ok(warm.calls) and cold_ok and later_ok
    print("(b) AWS calls on the intake path (botocore before-call / before-send)")
    print(
        f"  first request in each of the {len(cold[OURS])} fresh processes of (a): "
        f"{'all within target' if cold_ok else 'NOT all within target'} (listed in (a))"
    )
    print(
        f"  first request after runtime.reset() in this process: {describe_calls(first.calls)}; "
        f"HTTP attempts {first.attempts.total()}"
    )
    print(f"  a later request: {describe_calls(warm.calls)}; HTTP attempts {warm.attempts.total()}")
    spread = ", ".join(
        f"{n} call{'s' if n != 1 else ''}: {count}"
        for n, count in sorted(later.dynamodb_calls.items())
    )
    print(f"  the {later.dynamodb_calls.total()} requests of (c), by DynamoDB calls each: {spread}")
    print(f"  reference:     {describe_calls(reference.calls)}")
    print(
        f"  TARGET {verdict(met)}: at most {MAX_DYNAMODB_CALLS} DynamoDB call "
        "and no SES call per intake request"
    )
    print()
    return met


def report_warm(warm: dict[str, Warm], requests: int) -> tuple[float, bool]:
    ours, ref = warm[OURS], warm[REFERENCE]
    warm_ratio = ratio(p50(ours.total_ms), p50(ref.total_ms))
    met = warm_ratio <= MAX_WARM_P50_RATIO
    print(f"(c) warm in-process latency, {requests} requests each (interleaved)")
    print(HEADER)
    target = f"<= {MAX_WARM_P50_RATIO}x {verdict(met)}"
    print(row("p50", p50(ours.total_ms), p50(ref.total_ms), target))
    print(row("p95", p95(ours.total_ms), p95(ref.total_ms)))
    print(row("p50 without HTTP round trips", p50(ours.without_http_ms), p50(ref.without_http_ms)))
    print(row("p50 outside botocore calls", p50(ours.outside_aws_ms), p50(ref.outside_aws_ms)))
    print("  without HTTP round trips: the handler's and botocore's client-side work (no moto)")
    print("  outside botocore calls: the handler's own code only")
    print()
    return warm_ratio, met


# --- main -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=COLD_RUNS, help="cold starts per handler")
    parser.add_argument("--requests", type=int, default=WARM_REQUESTS, help="warm requests each")
    parser.add_argument(
        "--no-importtime", action="store_true", help="skip the per-package `import app` profile"
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="INTERPRETER",
        help="also measure the cold start under this interpreter (a venv with the app's "
        "dependencies, e.g. Python 3.12 or 3.13); repeatable; also BENCH_PYTHONS",
    )
    parser.add_argument(
        "--no-local",
        action="store_true",
        help="skip (d), the live `make dev` stack at 0, 1,000 and 5,000 stored cases (about 4 min)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.requests < 2:
        parser.error("--runs must be at least 1 and --requests at least 2")
    bench_started = time.perf_counter()

    # One moto server on a free port, quiet, for every process of the bench.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="dx-desk-bench-pycache-") as pycache:
            _, port = server.get_host_and_port()
            env = bench_env(f"http://127.0.0.1:{port}")
            apply_env(env)
            run(args, env, child_env(pycache))
    except BenchError as exc:
        print(f"BENCH FAILED: {exc}", file=sys.stderr)
        return 2
    finally:
        server.stop()
    local_ok = True
    if not args.no_local:
        from tests.bench import bench_localstack

        local_ok = bench_localstack.run()
    print(f"bench time {time.perf_counter() - bench_started:.0f} s")
    return 0 if local_ok else 2


def run(args: argparse.Namespace, env: dict[str, str], children: dict[str, str]) -> None:
    import boto3

    from infra.local.resources import verify_sender

    verify_sender(boto3.client("sesv2"), env["MAIL_FROM"])
    empty = EmptyTable(boto3.client("dynamodb"), env)
    payloads = Payloads()

    # (a) cold start, in fresh processes.
    cold = cold_starts(payloads, empty, args.runs, children)
    # (e) the same under other Pythons (the Lambda runtimes SnapStart needs).
    pythons = [*args.python, *os.environ.get("BENCH_PYTHONS", "").split()]
    others = {
        python: cold_starts(payloads, empty, args.runs, children, python)
        for python in pythons
        if python_usable(python)
    }

    # (b) and (c): both handlers in this process, with fresh clients.
    import app as ours_app
    from chalicelib import runtime
    from tests.bench import reference_app

    runtime.reset()
    reference_app.dynamodb.cache_clear()
    probe = AwsProbe()
    # On the default botocore session: every client built from it inherits the probe;
    # then on deps' own clients, in case deps ever builds them from another session.
    probe.attach(boto3._get_default_session()._session)
    probe.attach(runtime.dynamodb().meta.events)
    probe.attach(runtime.sesv2().meta.events)

    def counted(name: str, handler: Handler) -> AwsProbe:
        probe.clear()
        invoke(name, handler, payloads.body())
        return AwsProbe(calls=Counter(probe.calls), attempts=Counter(probe.attempts))

    empty()
    first = counted(OURS, ours_app.app)
    for _ in range(5):
        invoke(OURS, ours_app.app, payloads.body())
    warm_request = counted(OURS, ours_app.app)
    reference = counted(REFERENCE, reference_app.app)

    handlers: dict[str, Handler] = {OURS: ours_app.app, REFERENCE: reference_app.app}
    warm = warm_latency(handlers, probe, payloads, empty, args.requests)

    print("dx-desk intake bench: POST /consultations vs reference (Chalice, one PutItem)")
    print("both invoked as Lambda handlers with a proxy event; one in-process moto server (HTTP);")
    print("the table is recreated empty (untimed) before every measured request;")
    print("children read all modules from a private, pre-warmed bytecode cache")
    print(versions())
    print()
    cold_ratio, cold_met = report_cold(cold)
    calls_met = report_calls(first, warm_request, reference, cold, warm[OURS])
    warm_ratio, warm_met = report_warm(warm, args.requests)
    if others:
        report_other_pythons(cold, others)
    if not args.no_importtime:
        print("import profile (python -X importtime, one run each; inflated by the profiling)")
        for line in import_profile(children):
            print(line)
        print()
    print(
        f"TARGETS: AWS calls {verdict(calls_met)} · cold start {cold_ratio:.2f}x "
        f"{verdict(cold_met)} · warm p50 {warm_ratio:.2f}x {verdict(warm_met)}"
    )


if __name__ == "__main__":
    sys.exit(main())

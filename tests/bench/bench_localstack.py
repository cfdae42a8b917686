"""`make bench` section (d): the `make dev` stack as cases pile up, and how fast staff mail leaves.

A live `python -m infra.local.dev` (embedded moto, chalice local, the outbox drain)
is started with SES pointed at aws-ses-v2-local when it is installed. At each
level (0, 1,000 and 5,000 stored cases) it sends MEASURED sequential
submissions over HTTP and records:

- intake latency (POST /consultations until the 201 is read);
- the launcher's resident memory (VmRSS) before and after the batch;
- for each submission, when the staff notification appeared in the SES
  emulator's store (polled every POLL_SECONDS), counted from the 201.

Cases between levels are seeded through CaseStore.create_case over moto's
endpoint (not through HTTP, no mail): each is a case, its requester lookup,
a payload claim and a counter update, one transaction each, as an intake
writes them minus the outgoing mail.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local.launch import StackError, launched
from tests.conftest import REGION, local_stage_env, valid_payload
from tests.livestack import (
    START_TIMEOUT,
    http,
    running_ses_emulator,
    ses_emulator_missing,
)

LEVELS = (0, 1000, 5000)
MEASURED = 40
WARMUP = 5
POLL_SECONDS = 0.01
MAIL_TIMEOUT = 15.0
SEED_THREADS = 2

# Targets (issue 12).
FLAT_P50_RATIO = 1.5  # p50 at the largest level against the empty stack
FLAT_RSS_RATIO = 1.10  # RSS at the largest level against the empty stack
MAX_KB_PER_SUBMISSION = 500  # RSS growth per measured submission (was ~19,000)
MAIL_P95_SECONDS = 1.0


class LocalBenchError(RuntimeError):
    """The stack did not start or answered wrongly: no figures."""


@dataclass
class Level:
    cases: int
    items: int = 0
    latencies: list[float] = field(default_factory=list)
    mail_delays: list[float] = field(default_factory=list)
    mail_missing: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0

    def growth_per_submission_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(1, len(self.latencies))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LocalBenchError("no VmRSS in /proc: this section needs Linux")


@dataclass
class LiveStack:
    process: subprocess.Popen[bytes]
    api: str
    moto: str
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]


@contextmanager
def live_stack(log_path: Path, ses_url: str | None) -> Iterator[LiveStack]:
    env = {
        # Every request comes from 127.0.0.1: lift the per-client hourly limit.
        "RATE_LIMIT_PER_HOUR": "1000000",
        **({"AWS_ENDPOINT_URL_SESV2": ses_url} if ses_url else {}),
    }
    try:
        with launched(log_path, env, start_timeout=START_TIMEOUT) as up:
            yield LiveStack(up.process, up.api, up.moto, up.log_path)
    except StackError as exc:
        raise LocalBenchError(str(exc)) from None


# --- seeding through the store ------------------------------------------------------


def moto_client(moto: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=moto,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_cases(moto: str, first: int, count: int) -> None:
    """`count` stored cases (numbered from `first`), through CaseStore.create_case, no mail."""
    from chalicelib.core.case import IdempotencyClaim, counter_increments, fingerprint, new_case
    from chalicelib.core.consultation import parse_consultation
    from chalicelib.core.settings import settings_from
    from chalicelib.runtime import load_deployment
    from chalicelib.storage.cases import CaseStore

    env = local_stage_env()
    store = CaseStore(moto_client(moto), env["TABLE_NAME"])
    deployment = load_deployment(settings_from(env).deployment_file)
    # Spread over the past 200 days: months and receipt dates differ from today's intakes.
    origin = datetime.now(UTC) - timedelta(days=200)

    def one(number: int) -> None:
        created = origin + timedelta(minutes=40 * number)
        consultation = parse_consultation(
            valid_payload(
                email=f"seed-{number:05d}@example.com",
                name=f"蓄積{number:05d}",
                message=f"蓄積した相談 {number} 件目です。\n紙の申請書を減らしたいです。",
            ),
            deployment,
        )
        receipt = f"DX-{created.strftime('%y%m%d')}-9{number:05d}"
        case = new_case(
            consultation,
            receipt_number=receipt,
            now=created,
            channel="api",
            privacy_notice_version=deployment.privacy_notice_version,
            raw_name=None,
            retention_days=3650,
        )
        digest = fingerprint(consultation)
        store.create_case(
            case,
            [],
            claims=[IdempotencyClaim("payload", digest[:40], digest, int(created.timestamp()))],
            counters=counter_increments(case),
            rate=None,
            now_epoch=int(created.timestamp()),
            mail_expires_at=int(created.timestamp()),
        )

    with ThreadPoolExecutor(max_workers=SEED_THREADS) as pool:
        list(pool.map(one, range(first, first + count)))


def item_count(moto: str) -> int:
    """Items in the desk table (a bench-only Scan with COUNT)."""
    client = moto_client(moto)
    total, kwargs = 0, {"TableName": local_stage_env()["TABLE_NAME"], "Select": "COUNT"}
    while True:
        page = client.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- measuring -----------------------------------------------------------------------------


def staff_mail_times(ses_url: str, receipts: set[str], staff: str) -> dict[str, bool]:
    _, _, body = http("GET", f"{ses_url}/store")
    found: dict[str, bool] = {}
    for mail in json.loads(body)["emails"]:
        if staff not in mail["destination"]["to"]:
            continue
        for receipt in receipts:
            if receipt in mail["subject"]:
                found[receipt] = True
    return found


def submit(api: str, tag: str, n: int) -> tuple[float, str]:
    payload = valid_payload(
        email=f"bench-local-{tag}-{n}@example.com",
        message=f"ベンチマークの相談です ({tag}-{n})。\n紙の申請書を減らしたいです。",
    )
    started = time.perf_counter()
    status, _, body = http(
        "POST",
        f"{api}/consultations",
        json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    elapsed = time.perf_counter() - started
    if status != 201:
        raise LocalBenchError(f"intake answered {status}: {body[:300]!r}")
    return elapsed, str(json.loads(body)["receipt_number"])


def wait_for_staff_mail(ses_url: str, receipt: str, staff: str) -> float | None:
    """Seconds from now until the staff notification for `receipt` is in the emulator."""
    started = time.perf_counter()
    while time.perf_counter() - started < MAIL_TIMEOUT:
        if staff_mail_times(ses_url, {receipt}, staff):
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)
    return None


def measure(stack: LiveStack, level: Level, ses_url: str | None) -> None:
    staff = local_stage_env()["STAFF_NOTIFY_TO"].split(",")[0]
    tag = f"{level.cases}-{os.getpid()}"
    for n in range(WARMUP):
        _, receipt = submit(stack.api, f"warm{tag}", n)
        if ses_url:
            wait_for_staff_mail(ses_url, receipt, staff)
    if ses_url:
        http("POST", f"{ses_url}/clear-store")
    level.rss_before_kb = rss_kb(stack.process.pid)
    for n in range(MEASURED):
        elapsed, receipt = submit(stack.api, tag, n)
        level.latencies.append(elapsed)
        if ses_url:
            delay = wait_for_staff_mail(ses_url, receipt, staff)
            if delay is None:
                level.mail_missing += 1
            else:
                level.mail_delays.append(delay)
        else:
            time.sleep(0.05)
    level.rss_after_kb = rss_kb(stack.process.pid)
    level.items = item_count(stack.moto)


# --- report ----------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94] if len(values) > 1 else 0.0


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report(levels: list[Level], ses_note: str, seed_seconds: dict[int, float]) -> list[str]:
    lines = [
        "(d) the `make dev` stack as cases pile up: live infra.local.dev over HTTP, "
        f"{MEASURED} sequential intakes per level after {WARMUP} warm-ups",
        f"  {'stored cases':>12} {'items':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'RSS MB':>8} {'KB/submission':>14} {'staff mail p50/p95 ms':>22}",
    ]
    for level in levels:
        mail = (
            f"{statistics.median(level.mail_delays) * 1000:8.0f} / {p95(level.mail_delays) * 1000:5.0f}"
            if level.mail_delays
            else "—"
        )
        lines.append(
            f"  {level.cases:>12,} {level.items:>7,} {statistics.median(level.latencies) * 1000:8.1f} "
            f"{p95(level.latencies) * 1000:8.1f} {level.rss_after_kb / 1024:8.0f} "
            f"{level.growth_per_submission_kb():14.0f} {mail:>22}"
        )
    seeds = ", ".join(f"{n:,} cases in {s:.0f} s" for n, s in seed_seconds.items())
    lines.append(f"  seeded through CaseStore.create_case (no mail): {seeds or 'none'}")
    first, last = levels[0], levels[-1]
    p50_ratio = statistics.median(last.latencies) / statistics.median(first.latencies)
    rss_ratio = last.rss_after_kb / first.rss_after_kb
    per_case_kb = (last.rss_after_kb - first.rss_after_kb) / max(1, last.cases - first.cases)
    worst_growth = max(level.growth_per_submission_kb() for level in levels)
    lines += [
        f"  TARGET intake p50 flat: {last.cases:,} vs {first.cases} cases {p50_ratio:.2f}x "
        f"(<= {FLAT_P50_RATIO}x) {verdict(p50_ratio <= FLAT_P50_RATIO)}",
        f"  TARGET RSS flat: {last.cases:,} vs {first.cases} cases {rss_ratio:.2f}x "
        f"(<= {FLAT_RSS_RATIO:.2f}x) {verdict(rss_ratio <= FLAT_RSS_RATIO)}; "
        f"the stored data costs {per_case_kb:.1f} KB of RSS per seeded case",
        f"  TARGET no growth per write: at most {worst_growth:.0f} KB of RSS per submission "
        f"(<= {MAX_KB_PER_SUBMISSION}) {verdict(worst_growth <= MAX_KB_PER_SUBMISSION)}",
    ]
    delays = [d for level in levels for d in level.mail_delays]
    missing = sum(level.mail_missing for level in levels)
    if delays:
        mail_p95 = p95(delays)
        met = mail_p95 <= MAIL_P95_SECONDS and missing == 0
        lines.append(
            f"  TARGET staff mail accepted by SES within {MAIL_P95_SECONDS:.0f} s of the 201 at p95: "
            f"{mail_p95 * 1000:.0f} ms over {len(delays)} intakes, {missing} missing "
            f"({ses_note}; polled every {POLL_SECONDS * 1000:.0f} ms) {verdict(met)}"
        )
    else:
        lines.append(f"  staff mail timing SKIPPED: {ses_note}")
    return lines


def run(levels: tuple[int, ...] = LEVELS, print_line: Callable[[str], None] = print) -> bool:
    """Run the section and print it; False when the stack failed (the error is printed)."""
    missing = ses_emulator_missing()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dx-desk-bench-local-") as tmp:
        emulator = (
            nullcontext(None) if missing else running_ses_emulator(Path(tmp) / "ses-emulator.log")
        )
        try:
            with emulator as ses_url, live_stack(Path(tmp) / "stack.log", ses_url) as stack:
                results: list[Level] = []
                seed_seconds: dict[int, float] = {}
                stored = 0
                for cases in levels:
                    if cases > stored:
                        seeding = time.perf_counter()
                        seed_cases(stack.moto, stored, cases - stored)
                        seed_seconds[cases - stored] = time.perf_counter() - seeding
                        stored = cases
                    level = Level(cases)
                    measure(stack, level, ses_url)
                    results.append(level)
                note = (
                    "aws-ses-v2-local via AWS_ENDPOINT_URL_SESV2"
                    if ses_url
                    else f"aws-ses-v2-local missing: {missing}"
                )
        except Exception as exc:  # any failure ends the section with its reason, not the bench
            print_line(f"(d) the `make dev` stack: FAILED: {type(exc).__name__}: {exc}")
            return False
    for line in report(results, note, seed_seconds):
        print_line(line)
    print_line(f"  section time {time.perf_counter() - started:.0f} s")
    print_line("")
    return True


if __name__ == "__main__":
    sys.exit(0 if run() else 2)

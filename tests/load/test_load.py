"""Concurrent submissions against the live local stack: every case stored once, every mail sent once.

`make test` runs a small round (LOAD_SMALL concurrent submissions);
`make loadtest` (LOADTEST=1) runs LOAD_FULL and prints the figures (also
written to test-artifacts/load-<N>.json). Both go over real HTTP to the
`make dev` stack: chalice local, the outbox drain and moto, whose DynamoDB
operations infra/local/resources.py serialises, started through tests/load/launcher.py,
which lifts two limits of those local tools (see there).

Every request comes from 127.0.0.1, so the stack runs with a high
RATE_LIMIT_PER_HOUR; otherwise the per-client limit (20 an hour) would
answer 429 from the 21st submission on and hide what is measured.

`make loadtest LOAD=fault` (LOADTEST=fault) runs RELIABILITY.md fault 15:
FAULT_SUBMISSIONS from FAULT_CLIENTS clients, each connecting from its own
loopback address (127.0.0.2, ...: the launcher passes the peer address on as
API Gateway's sourceIp), under a per-client limit above one client's share
and below the total, while the launcher's SES refuses FAULT_RATE of sends;
then SES recovers and every mail must be delivered exactly once.
"""

from __future__ import annotations

import email
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from infra.local.launch import free_port, stack_environment
from tests.conftest import ROOT, local_stage_env, valid_payload
from tests.livestack import EXIT_TIMEOUT, Stack

# The round inside `make test` (0 skips it); the full one runs under `make loadtest`.
LOAD_SMALL = int(os.environ.get("LOAD_SMALL", "20"))
LOAD_FULL = int(os.environ.get("LOAD_FULL", "200"))
REQUEST_TIMEOUT = 120.0
# Waiting for the outbox: give up only when it did not move for this long.
MAIL_STALL_SECONDS = 30.0
RECEIPT = re.compile(r"DX-\d{6}-\d{6}")


@dataclass
class Answer:
    index: int
    status: int  # 0: no HTTP answer (see error)
    receipt: str | None
    seconds: float
    error: str = ""


@dataclass
class Figures:
    submissions: int
    answered_201: int
    other_statuses: dict[str, int]
    cases: int
    distinct_receipts: int
    cases_with_the_wrong_requester: int
    mails_expected: int
    mails_sent: int
    duplicates: int
    lost: int
    misaddressed: int
    wall_seconds: float
    throughput_per_second: float
    latency_p50_seconds: float
    latency_p95_seconds: float
    latency_max_seconds: float
    all_mail_sent_after_seconds: float

    def lines(self) -> list[str]:
        return [
            f"concurrent submissions: {self.submissions}",
            f"201 answers:            {self.answered_201} (others: {self.other_statuses or 'none'})",
            f"cases stored:           {self.cases}",
            f"distinct receipts:      {self.distinct_receipts}",
            f"cases under the wrong requester: {self.cases_with_the_wrong_requester}",
            f"mails expected / sent:  {self.mails_expected} / {self.mails_sent}",
            f"duplicates:             {self.duplicates}",
            f"lost:                   {self.lost}",
            f"misaddressed:           {self.misaddressed}",
            f"wall time (requests):   {self.wall_seconds:.1f} s",
            f"throughput:             {self.throughput_per_second:.1f} submissions/s",
            f"latency p50 / p95 / max: {self.latency_p50_seconds:.2f} / "
            f"{self.latency_p95_seconds:.2f} / {self.latency_max_seconds:.2f} s",
            f"all mail sent after:    {self.all_mail_sent_after_seconds:.1f} s (from the first request)",
        ]


def post_json(url: str, payload: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def requester(index: int) -> str:
    return f"load-{index:04d}@example.com"


def submission(index: int) -> dict[str, Any]:
    # Distinct content: the same payload within 10 minutes is one submission.
    return valid_payload(
        email=requester(index),
        name=f"負荷試験{index:04d}",
        message=f"負荷試験の相談 {index} 件目です。\n紙の申請書を減らしたいです。",
    )


def submit_all(api: str, count: int) -> tuple[list[Answer], float, float]:
    """`count` submissions at once (one thread each, released together); answers, start, wall."""
    barrier = threading.Barrier(count + 1)

    def one(index: int) -> Answer:
        payload = submission(index)
        barrier.wait()
        started = time.perf_counter()
        try:
            status, body = post_json(f"{api}/consultations", payload)
        except OSError as exc:  # a refused or dropped connection is a lost submission
            return Answer(index, 0, None, time.perf_counter() - started, type(exc).__name__)
        seconds = time.perf_counter() - started
        receipt = json.loads(body).get("receipt_number") if status == 201 else None
        return Answer(index, status, receipt, seconds)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(one, index) for index in range(count)]
        barrier.wait()
        start = time.perf_counter()
        answers = [future.result() for future in futures]
        wall = time.perf_counter() - start
    return answers, start, wall


def sent_mail(moto: str) -> list[tuple[str, list[str]]]:
    """(subject, recipients) of every raw mail moto's SES accepted."""
    with urllib.request.urlopen(f"{moto}/moto-api/data.json", timeout=60) as response:
        data = json.loads(response.read())
    mails = []
    for sent in data.get("ses", {}).get("RawMessage", []):
        message = email.message_from_string(sent["raw_data"], policy=default_policy)
        mails.append((str(message["Subject"]), list(sent["destinations"])))
    return mails


def mail_pairs(mails: list[tuple[str, list[str]]]) -> Counter[tuple[str, str]]:
    """How often each (receipt number, recipient) was sent."""
    pairs: Counter[tuple[str, str]] = Counter()
    for subject, recipients in mails:
        found = RECEIPT.search(subject)
        if found:
            # moto lists each recipient twice (the envelope and the To header).
            for recipient in set(recipients):
                pairs[(found.group(0), recipient)] += 1
    return pairs


def local_dynamodb(moto: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=moto,
        region_name="ap-northeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def waiting_in_outbox(dynamodb: Any) -> int:
    """Mail still PENDING or SENDING: the outbox index holds nothing else."""
    from chalicelib.storage.keys import OUTBOX_PARTITION

    return int(
        dynamodb.query(
            TableName=local_stage_env()["TABLE_NAME"],
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": {"S": OUTBOX_PARTITION}},
            Select="COUNT",
        )["Count"]
    )


def wait_for_outbox(moto: str) -> float:
    """When the outbox emptied, or stopped moving for MAIL_STALL_SECONDS (then mail is missing).

    Polls the outbox index, not moto's SES store: moto's data.json dumps every
    backend and takes seconds once hundreds of mails are in it.
    """
    dynamodb = local_dynamodb(moto)
    last, last_change = -1, time.monotonic()
    while True:
        waiting = waiting_in_outbox(dynamodb)
        if waiting == 0:
            return time.perf_counter()
        if waiting != last:
            last, last_change = waiting, time.monotonic()
        elif time.monotonic() - last_change > MAIL_STALL_SECONDS:
            return time.perf_counter()
        time.sleep(1.0)


def items_of_kind(moto: str, kind: str) -> list[dict[str, Any]]:
    """Every item of one kind in the local table (a test-only Scan: request paths never scan)."""
    client = local_dynamodb(moto)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": local_stage_env()["TABLE_NAME"],
        "FilterExpression": "kind = :kind",
        "ExpressionAttributeValues": {":kind": {"S": kind}},
    }
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_cases(moto: str) -> list[dict[str, Any]]:
    return items_of_kind(moto, "case")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_load(stack: Stack, count: int) -> Figures:
    staff = local_stage_env()["STAFF_NOTIFY_TO"].split(",")
    answers, start, wall = submit_all(stack.api, count)
    accepted = [a for a in answers if a.status == 201 and a.receipt]
    receipts = {a.receipt for a in accepted}
    expected: set[tuple[str, str]] = set()
    for answer in accepted:
        assert answer.receipt is not None
        expected.add((answer.receipt, requester(answer.index)))
        expected.update((answer.receipt, address) for address in staff)
    mail_done = wait_for_outbox(stack.moto)
    pairs = mail_pairs(sent_mail(stack.moto))
    ours = {pair: n for pair, n in pairs.items() if pair[0] in receipts}
    cases = {item["receipt_number"]["S"]: item for item in stored_cases(stack.moto)}
    by_receipt = {a.receipt: a for a in accepted}
    wrong_requester = sum(
        1
        for receipt, answer in by_receipt.items()
        if receipt in cases and cases[receipt]["email"]["S"] != requester(answer.index)
    )
    latencies = [a.seconds for a in answers]
    return Figures(
        submissions=count,
        answered_201=len(accepted),
        other_statuses=dict(Counter(str(a.status or a.error) for a in answers if a.status != 201)),
        cases=len(cases),
        distinct_receipts=len(receipts),
        cases_with_the_wrong_requester=wrong_requester,
        mails_expected=len(expected),
        mails_sent=sum(ours.values()),
        duplicates=sum(n - 1 for n in ours.values() if n > 1),
        lost=len(expected - set(ours)),
        misaddressed=len(set(ours) - expected),
        wall_seconds=wall,
        throughput_per_second=count / wall,
        latency_p50_seconds=statistics.median(latencies),
        latency_p95_seconds=percentile(latencies, 0.95),
        latency_max_seconds=max(latencies),
        all_mail_sent_after_seconds=mail_done - start,
    )


@contextmanager
def running_load_stack(log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """tests.livestack.running_stack, started through tests.load.launcher."""
    api_port, moto_port = free_port(), free_port()
    while moto_port == api_port:
        moto_port = free_port()
    env = {
        **stack_environment(api_port, moto_port),
        # One client address for every request: lift the per-client hourly limit.
        "RATE_LIMIT_PER_HOUR": "1000000",
        **(extra_env or {}),
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.load.launcher"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    stack = Stack(
        process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}", log_path
    )
    try:
        stack.wait_until_healthy()
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=EXIT_TIMEOUT)


@pytest.fixture
def load_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_load_stack(tmp_path / "load-stack.log") as stack:
        yield stack


def check_and_report(stack: Stack, count: int) -> Figures:
    figures = run_load(stack, count)
    report = "\n".join([f"load test, {count} concurrent submissions:", *figures.lines()])
    print("\n" + report, flush=True)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"load-{count}.json").write_text(
        json.dumps(asdict(figures), indent=2), encoding="utf-8"
    )
    assert figures.answered_201 == count, f"{report}\n{stack.log()[-4000:]}"
    assert figures.cases == count, report
    assert figures.distinct_receipts == count, report
    assert figures.cases_with_the_wrong_requester == 0, report
    assert figures.mails_expected == 3 * count, report
    assert figures.mails_sent == figures.mails_expected, report
    assert (figures.duplicates, figures.lost, figures.misaddressed) == (0, 0, 0), report
    assert "Traceback" not in stack.log(), stack.log()[-4000:]
    return figures


@pytest.mark.skipif(LOAD_SMALL <= 0, reason="LOAD_SMALL=0")
def test_concurrent_submissions_each_become_one_case_with_each_mail_sent_once(
    load_stack: Stack,
) -> None:
    check_and_report(load_stack, LOAD_SMALL)


@pytest.mark.skipif(
    not os.environ.get("LOADTEST"), reason="the full load test: `make loadtest` (LOADTEST=1)"
)
def test_full_load_each_submission_one_case_each_mail_once(load_stack: Stack) -> None:
    check_and_report(load_stack, LOAD_FULL)


# Fault 15: `make loadtest LOAD=fault` (LOADTEST=fault).
FAULT_SUBMISSIONS = int(os.environ.get("LOAD_FAULT_SUBMISSIONS", "1000"))
FAULT_CLIENTS = 8
FAULT_RATE = 0.3
# SES keeps failing after the clients finish until the outbox has tried this
# many sends (a third of the mail): locally the drain sends little while the
# clients keep moto busy, and the fault should meet many messages, retries included.
FAULT_MIN_SENDS = FAULT_SUBMISSIONS
FAULT_MAX_SECONDS = 240.0
# After SES recovers, the outbox must have delivered everything within this.
DELIVERY_DEADLINE_SECONDS = 420.0
# Each client its own address: the per-client limit, set above one client's
# share and far below the total, refuses nobody only if the stack tells them apart.
FAULT_RATE_LIMIT = 2 * -(-FAULT_SUBMISSIONS // FAULT_CLIENTS)


def client_address(client: int) -> str:
    return f"127.0.0.{client + 2}"


def post_from(source: str, port: int, payload: dict[str, Any]) -> tuple[int, bytes]:
    """POST /consultations over a connection made from `source` (a loopback address)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=REQUEST_TIMEOUT, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST",
            "/consultations",
            body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def submit_from_clients(api: str, count: int, clients: int) -> tuple[list[Answer], float]:
    """`clients` threads, each from its own address, sending its share one after another."""
    port = int(api.rsplit(":", 1)[1])

    def client(number: int) -> list[Answer]:
        answers = []
        for index in range(number, count, clients):
            started = time.perf_counter()
            try:
                status, body = post_from(client_address(number), port, submission(index))
            except OSError as exc:
                answers.append(Answer(index, 0, None, time.perf_counter() - started, repr(exc)))
                continue
            receipt = json.loads(body).get("receipt_number") if status == 201 else None
            answers.append(Answer(index, status, receipt, time.perf_counter() - started))
        return answers

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = [a for share in pool.map(client, range(clients)) for a in share]
    return sorted(answers, key=lambda a: a.index), time.perf_counter() - start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The stack process's resident memory, once a second, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples = [rss_mb(pid)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(rss_mb(self.pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_mb(self.pid))


def outbox_messages(moto: str) -> list[dict[str, Any]]:
    return items_of_kind(moto, "message")


def wait_until_delivered(moto: str, deadline_seconds: float) -> bool:
    """True once nothing is PENDING or SENDING; False when the deadline passes first.

    A deadline, not a stall timer: a message refused a few times waits its
    backoff (30 s, 60 s, 120 s, ...) while the outbox looks idle.
    """
    dynamodb = local_dynamodb(moto)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if waiting_in_outbox(dynamodb) == 0:
            return True
        time.sleep(1.0)
    return False


@pytest.fixture
def fault_stack(tmp_path: Path) -> Iterator[tuple[Stack, Path, Path]]:
    switch, stats = tmp_path / "ses-failing", tmp_path / "ses-stats.json"
    switch.touch()
    env = {
        "RATE_LIMIT_PER_HOUR": str(FAULT_RATE_LIMIT),
        "LOAD_SES_FAULT_FILE": str(switch),
        "LOAD_SES_STATS_FILE": str(stats),
        "LOAD_SES_FAULT_RATE": str(FAULT_RATE),
    }
    with running_load_stack(tmp_path / "load-stack.log", env) as stack:
        yield stack, switch, stats


@pytest.mark.skipif(
    os.environ.get("LOADTEST") != "fault",
    reason="1,000 submissions while SES fails: `make loadtest LOAD=fault` (LOADTEST=fault)",
)
def test_fault_load_eight_clients_while_ses_fails_every_mail_delivered_once_after_recovery(
    fault_stack: tuple[Stack, Path, Path],
) -> None:
    stack, switch, stats_file = fault_stack
    count, staff = FAULT_SUBMISSIONS, local_stage_env()["STAFF_NOTIFY_TO"].split(",")
    rss = RssSampler(stack.process.pid)
    answers, wall = submit_from_clients(stack.api, count, FAULT_CLIENTS)
    wall_end = time.perf_counter()
    fault_until = time.monotonic() + FAULT_MAX_SECONDS
    while time.monotonic() < fault_until:
        during_run = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        if during_run.get("attempted", 0) >= FAULT_MIN_SENDS:
            break
        time.sleep(0.5)
    failing_seconds = time.perf_counter() - wall_end
    switch.unlink()  # SES recovers
    recovered = time.perf_counter()
    delivered = wait_until_delivered(stack.moto, DELIVERY_DEADLINE_SECONDS)
    delivery_seconds = time.perf_counter() - recovered
    rss.stop()
    ses = json.loads(stats_file.read_text())

    cases = {item["receipt_number"]["S"]: item for item in stored_cases(stack.moto)}
    emails = Counter(item["email"]["S"] for item in cases.values())
    accepted = {a.receipt: a for a in answers if a.status == 201 and a.receipt}
    unexpected = [a for a in answers if a.status not in (201, 503)]
    # A 503 promises nothing was written: no case under that requester.
    written_behind_503 = [
        a.index for a in answers if a.status == 503 and emails[requester(a.index)]
    ]
    expected = {(receipt, requester(a.index)) for receipt, a in accepted.items()}
    expected |= {(receipt, address) for receipt in accepted for address in staff}
    pairs = mail_pairs(sent_mail(stack.moto))
    ours = {pair: n for pair, n in pairs.items() if pair[0] in cases}
    twice = {pair: n for pair, n in ours.items() if n > 1}
    missing = expected - set(ours)
    misaddressed = set(ours) - expected
    messages = outbox_messages(stack.moto)
    states = Counter(m["state"]["S"] for m in messages)
    attempts = sum(int(m["attempts"]["N"]) for m in messages)
    latencies = [a.seconds for a in answers]
    first, last = latencies[:100], latencies[-100:]
    report = "\n".join(
        [
            f"load test with faults: {count} submissions from {FAULT_CLIENTS} clients, "
            f"SES refusing {FAULT_RATE:.0%} of sends until they finished "
            f"and at least {FAULT_MIN_SENDS} sends were tried:",
            f"answers by status:        {dict(Counter(str(a.status or a.error) for a in answers))}",
            f"wall time (requests):     {wall:.1f} s, {count / wall:.1f} submissions/s",
            f"latency p50 / p95 / max:  {statistics.median(latencies):.2f} / "
            f"{percentile(latencies, 0.95):.2f} / {max(latencies):.2f} s",
            f"latency p50, first / last 100 submissions: {statistics.median(first):.2f} / "
            f"{statistics.median(last):.2f} s",
            f"cases stored:             {len(cases)} (201 answers: {len(accepted)}; "
            f"written behind a 503: {len(written_behind_503)})",
            f"SES sends attempted / refused: {ses['attempted']} / {ses['refused']} "
            f"(before recovery: {during_run.get('attempted')} / {during_run.get('refused')}; "
            f"SES kept failing {failing_seconds:.0f} s after the clients finished)",
            f"outbox: {len(messages)} messages, {attempts} attempts, "
            f"{attempts - len(messages)} retries; states {dict(states)}",
            f"mails expected / delivered: {len(expected)} / {len(set(ours) & expected)}; "
            f"twice: {len(twice)}, missing: {len(missing)}, misaddressed: {len(misaddressed)}",
            f"all delivered after recovery: "
            f"{f'{delivery_seconds:.1f} s' if delivered else f'NO, after {delivery_seconds:.0f} s'}",
            f"stack RSS start / peak / end: {rss.samples[0]:.0f} / {max(rss.samples):.0f} / "
            f"{rss.samples[-1]:.0f} MB",
        ]
    )
    print("\n" + report, flush=True)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"load-fault-{count}.txt").write_text(report + "\n", encoding="utf-8")

    assert not unexpected, f"{report}\n{unexpected[:10]}\n{stack.log()[-4000:]}"
    assert not written_behind_503, report
    assert set(accepted) == set(cases), report
    assert all(cases[r]["email"]["S"] == requester(a.index) for r, a in accepted.items()), report
    assert ses["refused"] > 0, "no SES fault was injected: the run proves nothing"
    assert delivered, report
    assert states == Counter({"SENT": len(expected)}), report
    assert (twice, missing, misaddressed) == ({}, set(), set()), report
    # Every SES call is an outbox attempt; every refusal, one retry.
    assert ses["attempted"] == attempts, report
    assert ses["refused"] == attempts - len(messages), report
    assert "Traceback" not in stack.log(), stack.log()[-4000:]


def test_the_launchers_ses_faults_refuse_a_share_while_switched_on_and_count_every_send(
    tmp_path: Path,
) -> None:
    from tests.load.launcher import SesFaults

    switch, stats = tmp_path / "failing", tmp_path / "stats.json"
    switch.touch()
    faults = SesFaults(switch, stats, rate=0.3, seed=15)
    refused = sum(faults.refuse_now() for _ in range(1000))
    assert 230 <= refused <= 370  # 30% of 1,000 (seeded: the same every run)
    switch.unlink()
    assert not any(faults.refuse_now() for _ in range(200))
    assert json.loads(stats.read_text()) == {"attempted": 1200, "refused": refused}

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
"""

from __future__ import annotations

import email
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


def stored_cases(moto: str) -> list[dict[str, Any]]:
    """Every case in the local table (a test-only Scan: request paths never scan)."""
    client = local_dynamodb(moto)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": local_stage_env()["TABLE_NAME"],
        "FilterExpression": "kind = :case",
        "ExpressionAttributeValues": {":case": {"S": "case"}},
    }
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
def running_load_stack(log_path: Path) -> Iterator[Stack]:
    """tests.livestack.running_stack, started through tests.load.launcher."""
    api_port, moto_port = free_port(), free_port()
    while moto_port == api_port:
        moto_port = free_port()
    env = {
        **stack_environment(api_port, moto_port),
        # One client address for every request: lift the per-client hourly limit.
        "RATE_LIMIT_PER_HOUR": "1000000",
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

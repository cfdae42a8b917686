"""One cold start, run as a fresh process: import a Lambda handler, send its first intake request."""

# Run by path (`python tests/bench/child.py ours|reference`), with the project
# root on PYTHONPATH: the handler modules are imported as Lambda would import
# them, as top-level modules, and nothing from the tests package is loaded.
# bench_intake.py imports `proxy_event` and `LambdaContext` from here, so
# both benches invoke the apps in exactly the same way.

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

PATH = "/consultations"
SOURCE_IP = "192.0.2.10"


class LambdaContext:
    """The few attributes of Lambda's context object a handler may read."""

    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def proxy_event(body: str, *, source_ip: str = SOURCE_IP) -> dict[str, Any]:
    """An API Gateway (REST, Lambda proxy) event for `POST /consultations` with a JSON body."""
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body.encode("utf-8"))),
        "Host": "bench.execute-api.ap-northeast-1.amazonaws.com",
        "User-Agent": "bench",
    }
    return {
        "resource": PATH,
        "path": PATH,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": PATH,
            "httpMethod": "POST",
            "path": f"/local{PATH}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": "bench"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


class HttpClock:
    """Time spent waiting for HTTP answers (botocore before-send to before-parse), and the
    AWS calls made (before-call, by service.operation)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls: dict[str, int] = {}
        self._sent: float | None = None

    def install(self) -> None:
        # Every botocore session created from now on (the first request
        # creates boto3's default one) registers these handlers.
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.extend(
            [
                ("before-send", self._send),
                ("before-parse", self._answered),
                ("before-call", self._call),
            ]
        )

    def _call(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        self.calls[name] = self.calls.get(name, 0) + 1

    def _send(self, **_: Any) -> None:
        self._sent = time.perf_counter()

    def _answered(self, **_: Any) -> None:
        if self._sent is not None:
            self.seconds += time.perf_counter() - self._sent
            self._sent = None


def main() -> None:
    which, body = sys.argv[1], sys.argv[2]
    modules_before = len(sys.modules)
    if which == "ours":
        import app as handler_module
    else:
        import reference_app as handler_module
    t_import = time.perf_counter()
    modules_after_import = set(sys.modules)
    clock = HttpClock()
    clock.install()  # botocore is loaded already: both handlers import boto3
    event, context = proxy_event(body), LambdaContext()
    t_request = time.perf_counter()
    response = handler_module.app(event, context)
    t_first = time.perf_counter()
    first_request = t_first - t_request
    print(
        json.dumps(
            {
                "import_ms": (t_import - T0) * 1000,
                "first_request_ms": first_request * 1000,
                "total_ms": (t_import - T0 + first_request) * 1000,
                "http_ms": clock.seconds * 1000,
                "calls": clock.calls,
                "status": response["statusCode"],
                "body": response["body"] if response["statusCode"] >= 300 else "",
                "modules_at_import": len(modules_after_import) - modules_before,
                "modules_at_first_request": sorted(set(sys.modules) - modules_after_import),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

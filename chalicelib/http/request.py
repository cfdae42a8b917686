"""Request plumbing shared by the public routes: bounded JSON bodies and origin checks."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Request

from chalicelib.core.errors import BodyTooLarge, MalformedBody, OriginNotAllowed
from chalicelib.runtime import get_settings


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return str(value) if value is not None else None


def decode_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, refusing oversize bodies before parsing them."""
    declared = header(request, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raise BodyTooLarge(limit)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: deeply nested arrays ("[[[[..."), which fit in the limit.
        raise MalformedBody() from None
    if not isinstance(data, dict):
        raise MalformedBody()
    return data


def request_origin(request: Request) -> str | None:
    return header(request, "origin")


Origin = tuple[str, str, int]  # scheme, host, port: what a browser's same-origin rule compares
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str, *, bare: bool = False) -> Origin | None:
    """The origin of an http(s) URL, None for anything else (or, when `bare`, for anything
    more than `scheme://host[:port]`, which is all an Origin header ever holds)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if bare and (parts.path or parts.query or parts.fragment):
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, allowed: tuple[str, ...], public_base_url: str) -> bool:
    """A configured origin, or the API's own (the form page it serves posts back to it).

    Scheme, host and port are compared, never the request's Host header
    (which the caller chooses); the API's own origin is that of the
    configured public address (PUBLIC_BASE_URL).
    """
    sent = origin_of(origin, bare=True)
    trusted = [origin_of(each) for each in (*allowed, public_base_url) if each]
    return sent is not None and sent in trusted


def check_origin(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS headers for an allowed browser origin; raises for any other origin.

    Requests without an Origin header are not from a browser page, and CORS
    does not apply to them. The API's own origin comes from PUBLIC_BASE_URL
    (read now, as every setting).
    """
    origin = request_origin(request)
    if origin is None:
        return {}
    if not origin_allowed(origin, allowed, get_settings().public_base_url):
        raise OriginNotAllowed()
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def client_id(request: Request) -> str | None:
    """The caller's source address as API Gateway saw it (used only hashed, for rate limits)."""
    identity = (request.context or {}).get("identity") or {}
    source = identity.get("sourceIp")
    return str(source) if source else None


def log_keys(request: Request | None, **ids: str) -> dict[str, str]:
    """The structured keys of an API log line (`extra=`): API Gateway's request id and `ids`.

    `correlation_id` is the name Powertools gives API Gateway's request id in
    the job functions' logs (chalicelib/logs.py); Lambda's own JSON format
    writes each key as given (infra/RUNBOOK.md "Logs Insights"). Ids only,
    never values a person typed.
    """
    context = (request.context if request is not None else None) or {}
    keys = {"correlation_id": str(context.get("requestId") or ""), **ids}
    return {name: value for name, value in keys.items() if value}

"""What every HTTP answer gets on its way out: the documented error body, and HSTS on https.

Chalice answers some requests itself before a view runs (a method the path
does not have: 405; a Content-Type the route does not accept: 415) and turns
an unhandled exception into a 500, each with its own `{"Code", "Message"}`
body. Clients of the desk read one error shape (http/errors.py, `ErrorBody`
in /openapi.json), so those answers are rewritten here, keeping their status
and headers (`Allow`, CORS).

Strict-Transport-Security goes on every answer of a stage served over https
(a deployed stage: its PUBLIC_BASE_URL must be https), never on `make dev`'s
plain http, where browsers ignore it anyway. Framing stays with each page's
CSP `frame-ancestors` (docs/api.md "The consultation form": why no X-Frame-Options).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.core.errors import ConfigError
from chalicelib.http.errors import JSON_HEADERS
from chalicelib.http.request import log_keys
from chalicelib.runtime import get_settings

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

# A year, the usual value. No includeSubDomains or preload: the API's host
# decides for itself, not for the other sites of the prefecture's domain.
HSTS = "max-age=31536000"

# status → (code, Japanese message, English message) for Chalice's own answers.
CHALICE_ANSWERS: dict[int, tuple[str, str, str]] = {
    400: (
        "bad_request",
        "リクエストを読み取れませんでした。",
        "The request could not be read.",
    ),
    405: (
        "method_not_allowed",
        "このアドレスでは、この方法（HTTPメソッド）は使えません。使える方法は Allow ヘッダーのとおりです。",
        "This method is not allowed at this address; the Allow header lists those that are.",
    ),
    415: (
        "unsupported_media_type",
        "送信の形式（Content-Type）が、このアドレスでは受け付けられません。{accepted} で送ってください。",
        "This Content-Type is not accepted at this address; send {accepted}.",
    ),
    500: (
        "internal_error",
        "申し訳ありません。処理中に問題が起きました。少し時間をおいて、もう一度お試しください。",
        "Something went wrong on our side. Please try again in a moment.",
    ),
}
OTHER = (
    "error",
    "リクエストを処理できませんでした。",
    "The request could not be processed.",
)


def is_chalice_error(response: Response) -> bool:
    """Chalice's own error body (never one of ours: the desk's bodies are JSON text)."""
    body = response.body
    return isinstance(body, dict) and set(body) == {"Code", "Message"}


def _accepted_types(request: Request | None) -> str:
    """The content types the requested route accepts (from the app's route table)."""
    context = (request.context if request is not None else None) or {}
    try:
        route = bp.current_app.routes[context["resourcePath"]][context["httpMethod"]]
    except (KeyError, TypeError):
        return "application/json"
    return ", ".join(route.content_types) or "application/json"


def documented(response: Response, request: Request | None) -> Response:
    """Chalice's error answer as the documented body, with the same status and headers."""
    code, message, message_en = CHALICE_ANSWERS.get(response.status_code, OTHER)
    accepted = _accepted_types(request)
    body = {
        "error": code,
        "message": message.format(accepted=accepted),
        "message_en": message_en.format(accepted=accepted),
    }
    headers: dict[str, Any] = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    headers.update(JSON_HEADERS)
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=response.status_code,
        headers=headers,
    )


def serves_https() -> bool:
    """Whether this stage is served over https (deployed stages; `make dev` is http)."""
    try:
        return get_settings().public_base_url.lower().startswith("https://")
    except ConfigError:
        return False  # an answer must not fail on its own headers


@bp.middleware("http")
def every_answer(event: Request, get_response: Callable[[Request], Response]) -> Response:
    response = get_response(event)
    if is_chalice_error(response):
        log.info(
            "chalice answered %s itself: documented body",
            response.status_code,
            extra=log_keys(event),
        )
        response = documented(response, event)
    if serves_https():
        response.headers["Strict-Transport-Security"] = HSTS
    return response

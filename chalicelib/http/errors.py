"""Domain errors → HTTP answers, in one table; every answer is JSON with Japanese first."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.core import errors
from chalicelib.core.messages import SUMMARY

log = logging.getLogger(__name__)

JSON_HEADERS: dict[str, str] = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

# error class → (status, code, Japanese message, English message)
ERROR_TABLE: dict[type[errors.DeskError], tuple[int, str, str, str]] = {
    errors.InvalidSubmission: (422, "validation_error", SUMMARY.ja, SUMMARY.en),
    errors.MalformedBody: (
        400,
        "malformed_body",
        "送信内容を読み取れませんでした。もう一度お試しください。",
        "The request body could not be read (a JSON object is expected).",
    ),
    errors.BodyTooLarge: (
        413,
        "body_too_large",
        "送信内容が大きすぎます。相談内容を短くしてお送りください。",
        "The request is too large. Please shorten your message.",
    ),
    errors.OriginNotAllowed: (
        403,
        "origin_not_allowed",
        "このページからは送信できません。",
        "Submissions from this origin are not accepted.",
    ),
    errors.RateLimited: (
        429,
        "rate_limited",
        "短い時間に多くの送信がありました。しばらく時間をおいてから、もう一度お試しください。お急ぎの場合はお電話でご相談ください。",
        "Too many submissions in a short time. Please try again later, or call the desk.",
    ),
    errors.IdempotencyKeyReused: (
        422,
        "idempotency_key_reused",
        "同じ送信キーで異なる内容が送られました。ページを再読み込みしてからお送りください。",
        "This Idempotency-Key was used for a different request.",
    ),
    errors.StoreBusy: (
        503,
        "busy",
        "ただいま混み合っています。入力内容は失われていません。少し待ってから、もう一度送信してください。",
        "The desk is busy. Nothing was lost; please send again in a moment.",
    ),
    errors.InvalidAdminInput: (
        422,
        "validation_error",
        "入力内容に誤りがあります。各項目のメッセージを確認してください。",
        "Some fields are invalid; see the message for each field.",
    ),
    errors.NotFound: (
        404,
        "not_found",
        "指定されたものが見つかりません。",
        "Not found.",
    ),
    errors.AlreadyExists: (
        409,
        "already_exists",
        "同じIDのものが既に登録されています。",
        "Something with this id exists already.",
    ),
    errors.VersionConflict: (
        409,
        "conflict",
        "他の方が先に変更しました。最新の内容を読み込んでから、もう一度操作してください。",
        "Someone else changed this first. Reload and try again.",
    ),
    errors.RoleForbidden: (
        403,
        "forbidden",
        "この操作を行う権限がありません。",
        "Your role may not do this.",
    ),
}


def json_response(body: str, status: int, headers: dict[str, str]) -> Response:
    """A JSON answer with the headers every API answer carries."""
    merged: dict[str, str | list[str]] = {**JSON_HEADERS, **headers}
    return Response(body=body, status_code=status, headers=merged)


def error_response(exc: errors.DeskError, headers: dict[str, str] | None = None) -> Response:
    status, code, message, message_en = ERROR_TABLE[type(exc)]
    body: dict[str, Any] = {"error": code, "message": message, "message_en": message_en}
    if isinstance(exc, errors.InvalidSubmission | errors.InvalidAdminInput):
        body["errors"] = [
            {
                "field": err.field,
                "code": err.code,
                "message": err.message,
                "message_en": err.message_en,
                "loc": list(err.loc),
            }
            for err in exc.errors
        ]
    extra = {"Retry-After": "60"} if status in (429, 503) else {}
    return json_response(json.dumps(body, ensure_ascii=False), status, {**extra, **(headers or {})})


def json_errors(
    headers: Callable[[], dict[str, str]] | None = None,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Answer the domain errors of ERROR_TABLE; anything else stays a 500 (and is logged).

    `headers` adds headers every answer needs (CORS for an allowed origin).
    """

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except tuple(ERROR_TABLE) as exc:
                # Log the kind of error only: never bodies, addresses or values.
                log.info("request refused: %s", type(exc).__name__)
                extra = {}
                if headers is not None and not isinstance(exc, errors.OriginNotAllowed):
                    extra = headers()
                return error_response(exc, extra)

        return wrapper

    return decorate

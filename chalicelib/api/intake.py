"""Public intake routes: the JSON API the embedded form and other clients post to."""

from __future__ import annotations

import logging

from chalice.app import Blueprint, Response

from chalicelib import deps
from chalicelib.api.errors import json_errors, json_response
from chalicelib.api.http import (
    check_form_token,
    check_origin,
    client_id,
    decode_json_object,
    header,
)
from chalicelib.config import get_settings
from chalicelib.domain import formtoken
from chalicelib.domain.case import STATUS_LABELS, Status
from chalicelib.domain.receipt import new_receipt_number
from chalicelib.errors import ConfigError, MalformedBody, OriginNotAllowed
from chalicelib.models import ConsultationReceipt
from chalicelib.services.intake import submit_consultation
from chalicelib.web.formdata import HONEYPOT, TOKEN

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

MAX_IDEMPOTENCY_KEY = 128


def _cors() -> dict[str, str]:
    try:
        return check_origin(bp.current_request, get_settings().allowed_origins)
    except (OriginNotAllowed, ConfigError):
        # An error answer must not fail on its own headers.
        return {}


@bp.route("/consultations", methods=["POST"], content_types=["application/json"])
@json_errors(headers=_cors)
def create_consultation() -> Response:
    request = bp.current_request
    settings = get_settings()
    cors = check_origin(request, settings.allowed_origins)
    data = decode_json_object(request, settings.max_body_bytes)
    # The enhanced form sends its render token and honeypot along; other
    # clients need neither.
    token, honeypot = data.pop(TOKEN, None), data.pop(HONEYPOT, None)
    channel = "api"
    if token is not None:
        check = check_form_token(token if isinstance(token, str) else None, settings)
        if formtoken.is_bot(honeypot if isinstance(honeypot, str) else None, check):
            log.info("intake: discarded a bot-like submission (%s)", check.verdict.value)
            return _receipt_response(new_receipt_number(deps.now()), Status.RECEIVED.value, cors)
        if check.verdict is formtoken.Verdict.OK:
            channel = "form"
    elif isinstance(honeypot, str) and honeypot.strip():
        return _receipt_response(new_receipt_number(deps.now()), Status.RECEIVED.value, cors)
    key = header(request, "idempotency-key")
    if key is not None and not (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()
    ):
        raise MalformedBody()
    # Cached per process: a warm request reads nothing here (deps.directory).
    directory = deps.directory()
    result = submit_consultation(
        data,
        store=deps.case_store(),
        settings=settings,
        deployment=directory.deployment,
        now=deps.now(),
        channel=channel,
        idempotency_key=key,
        client_id=client_id(request),
        staff=directory.staff,
    )
    log.info(
        "consultation %s %s", result.receipt_number, "replayed" if result.replayed else "stored"
    )
    headers = {**cors, "Idempotent-Replayed": "true"} if result.replayed else cors
    return _receipt_response(result.receipt_number, result.status, headers)


def _receipt_response(receipt_number: str, status: str, headers: dict[str, str]) -> Response:
    label, _ = STATUS_LABELS[Status(status)]
    body = ConsultationReceipt(
        receipt_number=receipt_number,
        status=status,
        status_label=label,
        message=f"ご相談を受け付けました。受付番号は {receipt_number} です。確認のメールをお送りしました。",
        message_en=f"Your request was received. Receipt number: {receipt_number}. "
        "A confirmation email is on its way.",
    )
    return json_response(body.model_dump_json(), 201, headers)


@bp.route("/consultations", methods=["OPTIONS"])
@json_errors()
def consultations_preflight() -> Response:
    """CORS preflight: answered only for configured origins."""
    cors = check_origin(bp.current_request, get_settings().allowed_origins)
    if not cors:
        raise MalformedBody()
    return json_response(
        "",
        204,
        {
            **cors,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
            "Access-Control-Max-Age": "600",
        },
    )

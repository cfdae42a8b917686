"""Public intake routes: the JSON API the embedded form and other clients post to."""

from __future__ import annotations

import json
import logging

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.core.case import STATUS_LABELS, Status
from chalicelib.core.consultation import ConsultationReceipt, parse_consultation
from chalicelib.core.errors import ConfigError, FormTokenUsed, MalformedBody, OriginNotAllowed
from chalicelib.core.settings import Settings
from chalicelib.core.text import ruby_plain
from chalicelib.http.errors import json_errors, json_response
from chalicelib.http.request import (
    check_origin,
    client_id,
    decode_json_object,
    header,
    log_keys,
)
from chalicelib.intake import formtoken
from chalicelib.intake.formdata import HONEYPOT, TOKEN
from chalicelib.intake.i18n import UI, language
from chalicelib.intake.service import submit_consultation
from chalicelib.runtime import get_settings

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

MAX_IDEMPOTENCY_KEY = 128


def _query(name: str) -> str | None:
    params = bp.current_request.query_params
    value = params.get(name) if params else None
    return str(value) if value is not None else None


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
    token = data.pop(TOKEN, None)
    held = formtoken.honeypot_filled(data.pop(HONEYPOT, None))
    lang = language(_query("lang"))
    key = header(request, "idempotency-key")
    if key is not None and not (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()
    ):
        raise MalformedBody()
    # Read from nothing: the one DynamoDB call of an intake is its write (core/choices.py).
    desk = runtime.intake_desk()
    channel, form_token = "api", None
    if token is not None:
        check = formtoken.check(token if isinstance(token, str) else None, settings, desk.now)
        if check.verdict is formtoken.Verdict.TOO_FAST:
            # Validation first: an invalid submission hears what to fix, whatever the timing
            # (against the directory: nothing is stored on this path).
            parse_consultation(data, runtime.directory().deployment)
            log.info("intake: sent %ss after rendering, asked to confirm again", check.age_seconds)
            return _confirm_again("too_fast", settings, cors, lang)
        if check.verdict is formtoken.Verdict.OK:
            channel, form_token = "form", str(token)
    try:
        result = submit_consultation(
            data,
            store=runtime.case_store(),
            desk=desk,
            channel=channel,
            idempotency_key=key,
            client_id=client_id(request),
            form_token=form_token,
            held=held,
            language=lang,
        )
    except FormTokenUsed:
        return _confirm_again("token_used", settings, cors, lang)
    outcome = "replayed" if result.replayed else "stored"
    log.info(
        "consultation %s %s (%s)",
        result.receipt_number,
        outcome,
        result.status,
        extra=log_keys(request, receipt_number=result.receipt_number, outcome=outcome),
    )
    headers = {**cors, "Idempotent-Replayed": "true"} if result.replayed else cors
    return _receipt_response(result.receipt_number, result.status, headers)


def _confirm_again(reason: str, settings: Settings, headers: dict[str, str], lang: str) -> Response:
    """409: nothing was stored; the person presses 送信する once more (nothing typed is lost).

    Carries a fresh form token for the enhanced form to send with that press.
    `message` is in the page's language (`?lang=easy`: plain Japanese, readings
    in brackets), `message_en` in English.
    """
    # The same words as the form's pages (intake/i18n.py), so both paths say one thing.
    ja, en = ruby_plain(UI["ja" if lang == "en" else lang][reason]), UI["en"][reason]
    key_id, keys = settings.form_keys()
    body = {
        "error": "confirm_again",
        "reason": reason,
        "message": ja,
        "message_en": en,
        "form_token": formtoken.sign(keys, key_id, int(runtime.now().timestamp())),
    }
    return json_response(json.dumps(body, ensure_ascii=False), 409, headers)


def _receipt_response(receipt_number: str, status: str, headers: dict[str, str]) -> Response:
    """201 for a stored case; a held one (suspected spam) says its mail comes after a check."""
    label, _ = STATUS_LABELS[Status(status)]
    if status == Status.SUSPECTED_SPAM.value:
        body = ConsultationReceipt(
            receipt_number=receipt_number,
            status=status,
            status_label="受付（内容確認中）",
            message=f"ご相談を受け付けました。受付番号は {receipt_number} です。担当者が内容を確認してから、確認のメールをお送りします。",
            message_en=f"Your request was received. Receipt number: {receipt_number}. "
            "A confirmation email follows once staff have checked it.",
        )
    else:
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

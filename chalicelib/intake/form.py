"""The embeddable consultation form: 入力 → 確認 → 完了 as server-rendered pages.

Every page lives one level under /form/, so relative links and form actions
work the same behind an API Gateway stage prefix or a custom domain. The
pages work without JavaScript; static/form.js enhances them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.core.case import Status
from chalicelib.core.consultation import ConsultationCreate, parse_consultation
from chalicelib.core.deployment import Deployment
from chalicelib.core.errors import (
    BodyTooLarge,
    FormTokenUsed,
    InvalidSubmission,
    MalformedBody,
    OriginNotAllowed,
    RateLimited,
    StoreBusy,
)
from chalicelib.core.messages import message_in
from chalicelib.core.settings import Settings
from chalicelib.core.text import ruby_html, ruby_plain
from chalicelib.http.errors import error_response, json_errors, json_response
from chalicelib.http.request import check_origin, client_id, header, log_keys
from chalicelib.intake import formtoken
from chalicelib.intake.formdata import HONEYPOT, TOKEN, decode_form
from chalicelib.intake.i18n import UI, language
from chalicelib.intake.service import submit_consultation
from chalicelib.runtime import get_settings

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

FORM_CONTENT_TYPES = ["application/x-www-form-urlencoded"]
STATIC_TYPES = {
    "form.css": "text/css; charset=utf-8",
    "form.js": "text/javascript; charset=utf-8",
    "embed.js": "text/javascript; charset=utf-8",
}


def _deployment() -> Deployment:
    """The deployment with the current categories and support types (cached per process)."""
    return runtime.directory().deployment


def _page(
    template: str,
    *,
    status: int,
    lang: str,
    embed: bool,
    settings: Settings,
    deployment: Deployment | None = None,
    **context: Any,
) -> Response:
    # Imported here: Jinja2 is not needed by the JSON intake path, whose cold
    # start this keeps short.
    from chalicelib.intake.pages import render_page, security_headers

    body = render_page(
        template,
        lang=lang,
        embed=embed,
        settings=settings,
        deployment=deployment or _deployment(),
        **context,
    )
    headers: dict[str, str | list[str]] = dict(security_headers(settings))
    return Response(body=body, status_code=status, headers=headers)


def _words(lang: str) -> dict[str, str]:
    """The page's words as the body shows them (readings as <ruby> in やさしい日本語)."""
    from chalicelib.intake.pages import page_texts

    return page_texts(lang)[0]


def _new_token(settings: Settings) -> str:
    key_id, keys = settings.form_keys()
    return formtoken.sign(keys, key_id, int(runtime.now().timestamp()))


def _check_token(token: str | None, settings: Settings) -> formtoken.FormCheck:
    return formtoken.check(token, settings, runtime.now())


def _input_page(
    settings: Settings,
    lang: str,
    embed: bool,
    *,
    values: dict[str, Any] | None = None,
    errors: list[Any] | None = None,
    token: str | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    from chalicelib.intake.pages import error_view

    summary, by_field = error_view(errors or [], lang)
    return _page(
        "input",
        status=status,
        lang=lang,
        embed=embed,
        settings=settings,
        values=values or {},
        errors=by_field,
        error_summary=summary,
        token=token or _new_token(settings),
        notice=notice,
        step="input",
    )


def _review(
    consultation: ConsultationCreate, deployment: Deployment, lang: str
) -> list[dict[str, Any]]:
    from markupsafe import Markup

    from chalicelib.core.text import display_phone
    from chalicelib.intake.pages import choices, field_labels

    labels = field_labels(lang)
    options = {name: dict(pairs) for name, pairs in choices(deployment, lang).items()}
    rows = []
    for name, value in consultation.model_dump().items():
        if name == "privacy_notice_version":
            continue
        if name == "privacy_consent":
            shown = _words(lang)["privacy_agree"]
        elif value is None or value == "":
            shown = _words(lang)["none"]
        elif isinstance(value, list):
            # Markup joins keep the labels' <ruby> (やさしい日本語) and escape the rest.
            separator = Markup(", " if lang == "en" else "、")
            shown = separator.join(options[name].get(v) or str(v) for v in value)
        elif name in options:
            shown = options[name].get(value, value)
        elif name == "phone":
            shown = display_phone(value)
        else:
            shown = str(value)
        rows.append({"label": labels[name], "value": shown, "multiline": name == "message"})
    return rows


def _hidden(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields exactly as typed, so 修正する brings back what the person wrote
    (the submit step validates and normalises them again)."""
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list):
            pairs.extend((name, str(v)) for v in value)
        elif isinstance(value, bool):
            if value:
                pairs.append((name, "true"))
        else:
            pairs.append((name, str(value)))
    return pairs


def _confirm_page(
    settings: Settings,
    lang: str,
    embed: bool,
    consultation: ConsultationCreate,
    fields: dict[str, Any],
    token: str,
    *,
    honeypot: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    deployment = _deployment()
    return _page(
        "confirm",
        status=status,
        lang=lang,
        embed=embed,
        settings=settings,
        review=_review(consultation, deployment, lang),
        hidden=_hidden(fields),
        honeypot=honeypot,
        token=token,
        notice=notice,
        step="confirm",
    )


def _done_page(
    settings: Settings,
    lang: str,
    embed: bool,
    receipt_number: str,
    *,
    held: bool,
    deployment: Deployment,
) -> Response:
    """完了: only ever for a case that is stored. A held case (suspected spam) says
    honestly that the mail follows once staff have looked at it. `deployment`: the
    submission's (the page lists no choices, so it need not read the taxonomy)."""
    return _page(
        "done",
        status=200,
        lang=lang,
        embed=embed,
        settings=settings,
        deployment=deployment,
        receipt_number=receipt_number,
        held=held,
        step="done",
    )


def _read_form(settings: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    request = bp.current_request
    check_origin(request, settings.allowed_origins)
    declared = header(request, "content-length")
    raw = request.raw_body or b""
    if (declared and declared.isdigit() and int(declared) > settings.max_body_bytes) or len(
        raw
    ) > settings.max_body_bytes:
        raise BodyTooLarge(settings.max_body_bytes)
    try:
        return decode_form(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedBody() from None


def _query(name: str) -> str | None:
    params = bp.current_request.query_params
    value = params.get(name) if params else None
    return str(value) if value is not None else None


def _plain_error(exc: Exception, settings: Settings, lang: str) -> Response:
    """A short page for posts that cannot carry a form (foreign origin, unreadable body)."""
    messages = {
        OriginNotAllowed: (403, ruby_plain(UI[lang]["forbidden"])),
        BodyTooLarge: (413, "送信内容が大きすぎます。 / The request is too large."),
        MalformedBody: (400, "送信内容を読み取れませんでした。 / The request could not be read."),
    }
    status, text = messages.get(type(exc), (400, ruby_plain(UI[lang]["forbidden"])))
    headers: dict[str, str | list[str]] = {
        **_page_security(settings),
        "Content-Type": "text/plain; charset=utf-8",
    }
    return Response(body=text, status_code=status, headers=headers)


def _page_security(settings: Settings) -> dict[str, str]:
    from chalicelib.intake.pages import security_headers

    return security_headers(settings)


def _page_options(control: dict[str, str]) -> tuple[str, bool]:
    """The page language and whether it is framed, as the posted form says."""
    return language(control.get("lang")), control.get("embed") == "1"


def _token_notice(check: formtoken.FormCheck) -> str:
    """Why the page came back: an old token, or one that could not be read."""
    return "token_expired" if check.verdict is formtoken.Verdict.EXPIRED else "token_invalid"


@bp.route("/form", methods=["GET"])
def form_root() -> Response:
    """The address to link to: forwards to the input page, keeping the language."""
    lang = language(_query("lang"))
    return Response(body="", status_code=302, headers={"Location": f"form/input?lang={lang}"})


@bp.route("/form/input", methods=["GET"])
def form_input() -> Response:
    settings = get_settings()
    return _input_page(settings, language(_query("lang")), _query("embed") == "1")


@bp.route("/form/confirm", methods=["POST"], content_types=FORM_CONTENT_TYPES)
def form_confirm() -> Response:
    """入力 → 確認: validation first, whatever the timing; nothing is stored here."""
    settings = get_settings()
    try:
        fields, control = _read_form(settings)
    except (OriginNotAllowed, BodyTooLarge, MalformedBody) as exc:
        return _plain_error(exc, settings, "ja")
    lang, embed = _page_options(control)
    check = _check_token(control.get(TOKEN), settings)
    # A signed token keeps counting from the first render (too fast is judged on 送信する).
    readable = check.verdict in (formtoken.Verdict.OK, formtoken.Verdict.TOO_FAST)
    token = control.get(TOKEN) if readable else None
    try:
        consultation = parse_consultation(fields, _deployment())
    except InvalidSubmission as exc:
        return _input_page(
            settings, lang, embed, values=fields, errors=exc.errors, token=token, status=422
        )
    if token is None:
        # Expired or unreadable token: show the form again with everything kept.
        notice_key = _token_notice(check)
        return _input_page(
            settings, lang, embed, values=fields, notice=_words(lang)[notice_key], status=400
        )
    return _confirm_page(
        settings,
        lang,
        embed,
        consultation,
        fields,
        token,
        honeypot=control.get(HONEYPOT) or "",
    )


@bp.route("/form/submit", methods=["POST"], content_types=FORM_CONTENT_TYPES)
def form_submit() -> Response:
    """確認 → 完了: a case is stored, or the person is asked to press again with
    everything kept; a receipt number is shown only for a stored case."""
    settings = get_settings()
    try:
        fields, control = _read_form(settings)
    except (OriginNotAllowed, BodyTooLarge, MalformedBody) as exc:
        return _plain_error(exc, settings, "ja")
    lang, embed = _page_options(control)
    token = control.get(TOKEN)
    honeypot = control.get(HONEYPOT) or ""
    if control.get("action") == "back":
        return _input_page(settings, lang, embed, values=fields, token=token)
    check = _check_token(token, settings)
    # Read from nothing: the one DynamoDB call of a stored submission is its write.
    desk = runtime.intake_desk()
    try:
        consultation = parse_consultation(
            fields, desk.deployment, taxonomy_in_store=not desk.taxonomy_applied
        )
    except InvalidSubmission as exc:
        return _input_page(
            settings, lang, embed, values=fields, errors=exc.errors, token=token, status=422
        )

    def again(notice_key: str, status: int, token: str | None = None) -> Response:
        # The confirm page once more, everything kept; with a fresh token unless the
        # one it came with still holds (one more press stores it).
        return _confirm_page(
            settings,
            lang,
            embed,
            consultation,
            fields,
            token or _new_token(settings),
            honeypot=honeypot,
            notice=_words(lang)[notice_key],
            status=status,
        )

    if check.verdict is formtoken.Verdict.TOO_FAST:
        log.info("form: sent %ss after rendering, asked to confirm again", check.age_seconds)
        return again("too_fast", 400)
    if check.verdict is not formtoken.Verdict.OK:
        return again(_token_notice(check), 400)
    try:
        result = submit_consultation(
            fields,
            store=runtime.case_store(),
            desk=desk,
            channel="form",
            client_id=client_id(bp.current_request),
            form_token=token,
            held=formtoken.honeypot_filled(honeypot),
            language=lang,
        )
    except InvalidSubmission as exc:
        # A choice the stored taxonomy no longer offers (it changed after the form was shown).
        return _input_page(
            settings, lang, embed, values=fields, errors=exc.errors, token=token, status=422
        )
    except FormTokenUsed:
        return again("token_used", 409)
    except (RateLimited, StoreBusy) as exc:
        # Nothing was stored; the same token may press again once it is allowed.
        notice, status = ("rate_limited", 429) if isinstance(exc, RateLimited) else ("busy", 503)
        return again(notice, status, str(token))
    outcome = "replayed" if result.replayed else "stored"
    log.info(
        "form: consultation %s %s (%s)",
        result.receipt_number,
        outcome,
        result.status,
        extra=log_keys(bp.current_request, receipt_number=result.receipt_number, outcome=outcome),
    )
    return _done_page(
        settings,
        lang,
        embed,
        result.receipt_number,
        held=result.status == Status.SUSPECTED_SPAM.value,
        deployment=desk.deployment,
    )


@bp.route("/form/check", methods=["POST"], content_types=["application/json"])
@json_errors()
def form_check() -> Response:
    """Inline validation for the enhanced form: the same rules as intake, nothing stored."""
    from chalicelib.http.request import decode_json_object

    settings = get_settings()
    check_origin(bp.current_request, settings.allowed_origins)
    data = decode_json_object(bp.current_request, settings.max_body_bytes)
    for name in (TOKEN, HONEYPOT):
        data.pop(name, None)
    lang = language(_query("lang"))
    try:
        parse_consultation(data, _deployment())
    except InvalidSubmission as exc:
        if lang != "easy":
            raise
        # やさしい日本語: each message also as HTML with its readings (<ruby>), escaped.
        body = json.loads(str(error_response(exc).body))
        for shown, err in zip(body["errors"], exc.errors, strict=True):
            shown["message_html"] = ruby_html(message_in(err, lang))
        return json_response(json.dumps(body, ensure_ascii=False), 422, {})
    return json_response(json.dumps({"ok": True}), 200, {})


@bp.route("/form/static/{name}", methods=["GET"])
def form_static(name: str) -> Response:
    from chalicelib.templating import template_dir

    if name not in STATIC_TYPES:
        return Response(
            body="Not found",
            status_code=404,
            headers={
                "Content-Type": "text/plain; charset=utf-8",
                "X-Content-Type-Options": "nosniff",
            },
        )
    path: Path = template_dir() / "static" / name
    return Response(
        body=path.read_text(encoding="utf-8"),
        status_code=200,
        headers={
            "Content-Type": STATIC_TYPES[name],
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )

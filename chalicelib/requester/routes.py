"""The requester's pages: /my/<token> shows (GET, HEAD: a mail scanner changes nothing);
/my/<token>/add and /my/<token>/withdraw act on a POST from the page's own buttons;
/my/lookup mails the page link again."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.core import lifecycle, requesterlink
from chalicelib.core.actiontoken import TokenProblem, TokenRefused
from chalicelib.core.consultation import MAX_MESSAGE
from chalicelib.core.errors import (
    BodyTooLarge,
    CaseNotFound,
    CaseNotOpen,
    LinkAlreadyUsed,
    OriginNotAllowed,
    RateLimited,
    StoreBusy,
    VersionConflict,
)
from chalicelib.core.settings import Settings
from chalicelib.http.request import check_origin, client_id, header, log_keys
from chalicelib.requester import service
from chalicelib.requester.i18n import language
from chalicelib.requester.pages import Words, headers, render

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

FORM = "application/x-www-form-urlencoded"


def _lang_asked() -> str | None:
    """The language the page was asked in (?lang=), if any."""
    params = bp.current_request.query_params
    value = params.get("lang") if params else None
    return str(value) if value else None


def _query_lang(default: str = "ja") -> str:
    return language(_lang_asked(), default)


def _page(
    template: str, status: int, lang: str, settings: Settings, depth: int, **context: Any
) -> Response:
    body = render(
        template,
        lang=lang,
        settings=settings,
        depth=depth,
        method=bp.current_request.method,
        **context,
    )
    return Response(body=body, status_code=status, headers=headers())


def _result(
    code: int,
    lang: str,
    settings: Settings,
    depth: int,
    heading: str,
    text: str,
    *,
    token: str = "",
    lookup: bool = False,
    **params: Any,
) -> Response:
    """A page after an action or a refusal; a refusal always says nothing changed."""
    return _page(
        "result",
        code,
        lang,
        settings,
        depth,
        heading=heading,
        text=text,
        params=params,
        token=token,
        lookup=lookup,
    )


def _refused(exc: TokenRefused, lang: str, settings: Settings, depth: int) -> Response:
    if exc.problem is TokenProblem.EXPIRED:
        return _result(410, lang, settings, depth, "expired_heading", "expired_text")
    return _result(404, lang, settings, depth, "refused_heading", "refused_text", lookup=True)


def _form(settings: Settings) -> dict[str, str]:
    """The posted form fields (last value of each); raises OriginNotAllowed, BodyTooLarge."""
    request = bp.current_request
    # The pages set no-referrer (their URL holds a token), so browsers send
    # `Origin: null` from their own buttons; other origins are refused.
    if header(request, "origin") != "null":
        check_origin(request, settings.allowed_origins)
    raw = request.raw_body or b""
    if len(raw) > settings.max_body_bytes:
        raise BodyTooLarge(settings.max_body_bytes)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    form = parse_qs(text, keep_blank_values=True)
    return {name: values[-1] for name, values in form.items() if values}


def _show(
    token: str,
    lang_choice: str | None,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    typed: str = "",
    depth: int = 1,
) -> Response:
    """The page; `depth` 2 when answering a POST to /my/<token>/add (links stay relative)."""
    settings = runtime.get_settings()
    desk = runtime.desk()
    try:
        opened = service.open_page(
            token, store=runtime.case_store(), roster=runtime.roster_store(), desk=desk
        )
    except TokenRefused as exc:
        return _refused(exc, language(lang_choice), settings, depth)
    except CaseNotFound:
        return _result(
            404, language(lang_choice), settings, depth, "expired_heading", "expired_text"
        )
    except StoreBusy:
        return _result(503, language(lang_choice), settings, depth, "busy_heading", "busy_text")
    lang = language(lang_choice, opened.view.language)
    return _page(
        "page",
        status,
        lang,
        settings,
        depth,
        token=token,
        view=opened.view,
        add_token=opened.action_token(desk, requesterlink.ADD) if opened.view.can_act else "",
        max_message=MAX_MESSAGE,
        errors=errors or {},
        typed=typed,
    )


@bp.route("/my/{token}", methods=["GET", "HEAD"])
def show_page(token: str) -> Response:
    """The requester's page: reads, never writes, never submits by itself."""
    return _show(token, _lang_asked())


@bp.route("/my/{token}/add", methods=["POST"], content_types=[FORM])
def add_information(token: str) -> Response:
    settings = runtime.get_settings()
    lang = "ja"
    fields: dict[str, str] = {}
    try:
        fields = _form(settings)
        lang = language(fields.get("lang"))
        case = service.add_information(
            token,
            fields.get("act", ""),
            fields.get("text", ""),
            store=runtime.case_store(),
            writes=runtime.requester_store(),
            desk=runtime.desk(),
        )
    except service.InputInvalid as exc:
        # The page again, with the message beside the box and what was typed kept.
        words = Words(lang)
        return _show(
            token,
            lang,
            422,
            errors={e.field: words.error(e) for e in exc.errors},
            typed=fields.get("text", ""),
            depth=2,
        )
    except NOTHING_DONE as exc:
        return _nothing_done(exc, token, lang, settings, fields)
    _log("add", case["receipt_number"])
    return _result(200, lang, settings, 2, "added_heading", "added_text", token=token)


# What an action post (add, withdraw) that changed nothing can meet, and its one answer.
NOTHING_DONE = (
    OriginNotAllowed,
    BodyTooLarge,
    TokenRefused,
    CaseNotFound,
    LinkAlreadyUsed,
    CaseNotOpen,
    lifecycle.IllegalTransition,
    VersionConflict,
    StoreBusy,
)


def _nothing_done(
    exc: Exception, token: str, lang: str, settings: Settings, fields: dict[str, str]
) -> Response:
    """The page for an add or withdraw post that changed nothing, and why, in one place."""
    if isinstance(exc, OriginNotAllowed):
        return _result(403, lang, settings, 2, "forbidden_heading", "forbidden_text")
    if isinstance(exc, BodyTooLarge):
        return _result(413, lang, settings, 2, "too_large_heading", "too_large_text")
    if isinstance(exc, TokenRefused):
        if exc.problem is TokenProblem.EXPIRED and fields.get("act"):
            return _stale(token, lang, settings, exc)
        return _refused(exc, lang, settings, 2)
    if isinstance(exc, CaseNotFound):
        return _result(404, lang, settings, 2, "expired_heading", "expired_text")
    if isinstance(exc, LinkAlreadyUsed):
        return _already(token, lang, settings, exc)
    if isinstance(exc, CaseNotOpen | lifecycle.IllegalTransition):
        return _not_open(token, lang, settings)
    return _result(503, lang, settings, 2, "busy_heading", "busy_text", token=token)


def _stale(token: str, lang: str, settings: Settings, exc: TokenRefused) -> Response:
    """An expired action token under a valid page token: the page was open too long."""
    try:
        requesterlink.read_page_token(token, settings, runtime.now())
    except TokenRefused:
        return _refused(exc, lang, settings, 2)
    return _result(409, lang, settings, 2, "stale_heading", "stale_text", token=token)


def _already(token: str, lang: str, settings: Settings, exc: LinkAlreadyUsed) -> Response:
    at = str(exc.previous.get("at") or "")
    return _result(
        409,
        lang,
        settings,
        2,
        "already_heading",
        "already_text",
        token=token,
        at=at,
    )


def _not_open(token: str, lang: str, settings: Settings) -> Response:
    """The case is no longer open: say where it stands now (nothing was changed)."""
    try:
        status = service.status_now(token, store=runtime.case_store(), desk=runtime.desk())
    except (TokenRefused, CaseNotFound, StoreBusy):
        status = "ended"
    return _result(
        409,
        lang,
        settings,
        2,
        "not_open_heading",
        "not_open_text",
        token=token,
        status=status,
    )


def _log(action: str, receipt_number: str) -> None:
    log.info(
        "requester %s on %s",
        action,
        receipt_number,
        extra=log_keys(
            bp.current_request, receipt_number=receipt_number, action=action, outcome="applied"
        ),
    )


@bp.route("/my/{token}/withdraw", methods=["GET", "HEAD"])
def confirm_withdrawal(token: str) -> Response:
    """The confirmation step: shows, changes nothing."""
    settings = runtime.get_settings()
    desk = runtime.desk()
    lang = _query_lang()
    try:
        case = service.check_withdrawal(token, store=runtime.case_store(), desk=desk)
    except TokenRefused as exc:
        return _refused(exc, lang, settings, 2)
    except CaseNotFound:
        return _result(404, lang, settings, 2, "expired_heading", "expired_text")
    except lifecycle.IllegalTransition:
        return _not_open(token, lang, settings)
    except StoreBusy:
        return _result(503, lang, settings, 2, "busy_heading", "busy_text", token=token)
    lang = language(_lang_asked(), str(case.get("language") or "ja"))
    return _page(
        "withdraw",
        200,
        lang,
        settings,
        2,
        token=token,
        receipt_number=case["receipt_number"],
        act=requesterlink.action_token(
            settings,
            receipt_number=case["receipt_number"],
            email=str(case["email"]),
            action=requesterlink.WITHDRAW,
            now=desk.now,
        ),
        max_reason=service.MAX_REASON,
        errors={},
        typed="",
    )


@bp.route("/my/{token}/withdraw", methods=["POST"], content_types=[FORM])
def withdraw(token: str) -> Response:
    settings = runtime.get_settings()
    lang = "ja"
    fields: dict[str, str] = {}
    try:
        fields = _form(settings)
        lang = language(fields.get("lang"))
        done = service.withdraw(
            token,
            fields.get("act", ""),
            fields.get("reason", ""),
            store=runtime.case_store(),
            roster=runtime.roster_store(),
            desk=runtime.desk(),
        )
    except service.InputInvalid as exc:
        words = Words(lang)
        return _page(
            "withdraw",
            422,
            lang,
            settings,
            2,
            token=token,
            receipt_number="",
            act=fields.get("act", ""),
            max_reason=service.MAX_REASON,
            errors={e.field: words.error(e) for e in exc.errors},
            typed=fields.get("reason", ""),
        )
    except NOTHING_DONE as exc:
        return _nothing_done(exc, token, lang, settings, fields)
    _log("withdraw", done.case["receipt_number"])
    return _result(200, lang, settings, 2, "withdrawn_heading", "withdrawn_text", token=token)


@bp.route("/my/lookup", methods=["GET", "HEAD"])
def lookup_form() -> Response:
    settings = runtime.get_settings()
    return _page("lookup", 200, _query_lang(), settings, 1, errors={}, typed={})


@bp.route("/my/lookup", methods=["POST"], content_types=[FORM])
def lookup() -> Response:
    """The same answer whether the pair matched or not (no enumeration); rate limited."""
    settings = runtime.get_settings()
    lang = "ja"
    fields: dict[str, str] = {}
    try:
        fields = _form(settings)
        lang = language(fields.get("lang"))
        service.lookup(
            fields.get("receipt_number", ""),
            fields.get("email", ""),
            client_id=client_id(bp.current_request),
            store=runtime.case_store(),
            writes=runtime.requester_store(),
            desk=runtime.desk(),
        )
    except OriginNotAllowed:
        return _result(403, lang, settings, 1, "forbidden_heading", "forbidden_text")
    except BodyTooLarge:
        return _result(413, lang, settings, 1, "too_large_heading", "too_large_text")
    except service.InputInvalid as exc:
        words = Words(lang)
        return _page(
            "lookup",
            422,
            lang,
            settings,
            1,
            errors={e.field: words.error(e) for e in exc.errors},
            typed={k: fields.get(k, "") for k in ("receipt_number", "email")},
        )
    except RateLimited:
        limited = _result(
            429, lang, settings, 1, "lookup_limited_heading", "lookup_limited_text", contact=True
        )
        limited.headers["Retry-After"] = "3600"  # the window is the hour
        return limited
    except StoreBusy:
        return _result(503, lang, settings, 1, "busy_heading", "busy_text")
    return _result(200, lang, settings, 1, "lookup_done_heading", "lookup_done_text", contact=True)

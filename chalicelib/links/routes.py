"""Action links in mail: GET and HEAD only show a confirmation page; a POST from its button acts."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.core import lifecycle
from chalicelib.core.acting import SESSION_FORMATS
from chalicelib.core.actiontoken import EXPERT_ACTIONS, TokenProblem, TokenRefused
from chalicelib.core.errors import (
    BodyTooLarge,
    CaseNotFound,
    LinkAlreadyUsed,
    OriginNotAllowed,
    SessionInputInvalid,
    StoreBusy,
    VersionConflict,
)
from chalicelib.core.settings import Settings
from chalicelib.http.request import check_origin, header, log_keys
from chalicelib.links.service import act_by_link, describe_link
from chalicelib.runtime import get_settings

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

NEXT_HINT = "案件の最新の状態と次の操作は、事務局に届く通知メールでご確認ください。"


def _headers() -> dict[str, str | list[str]]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _render(template: str, status: int, settings: Settings, **context: Any) -> Response:
    # Imported here: the JSON intake path never renders pages (cold start).
    from chalicelib.templating import environment, label_lookup

    body = (
        environment()
        .get_template(f"actions/{template}.html")
        .render(
            desk={"name": settings.desk_name},
            label=label_lookup(runtime.directory().deployment),
            **context,
        )
    )
    if bp.current_request.method == "HEAD":
        body = ""  # HEAD answers the headers only (a body breaks HTTP clients)
    return Response(body=body, status_code=status, headers=_headers())


def _result(
    settings: Settings,
    status: int,
    heading: str,
    message: str,
    case: dict[str, Any] | None,
    next_hint: str = NEXT_HINT,
) -> Response:
    """The page after an action, or after a refusal (which always says nothing changed)."""
    return _render(
        "result", status, settings, heading=heading, message=message, case=case, next_hint=next_hint
    )


def _action_label(action: str) -> str:
    return lifecycle.ACTION_LABELS[lifecycle.Action(action)][0]


def _not_found(settings: Settings) -> Response:
    """A validly signed link whose case is gone (never stored, or past its retention)."""
    return _result(
        settings,
        404,
        "案件が見つかりません",
        "このリンクの案件は見つかりませんでした（保存期間を過ぎた可能性があります）。何も変更されていません。",
        None,
        next_hint="ご不明な点は事務局にお問い合わせください。",
    )


def _busy(settings: Settings) -> Response:
    return _result(
        settings,
        503,
        "ただいま混み合っています",
        "何も変更されていません。少し待ってから、もう一度お試しください。",
        None,
    )


def _refused(exc: TokenRefused, settings: Settings) -> Response:
    if exc.problem is TokenProblem.EXPIRED:
        return _result(
            settings,
            410,
            "このリンクは有効期限が切れています",
            "何も変更されていません。",
            None,
            next_hint="最新の通知メールのリンクを使うか、案件のメールに返信して操作してください。",
        )
    return _result(
        settings,
        404,
        "このリンクは使えません",
        "リンクが正しくないか、あなた宛てのものではありません。何も変更されていません。",
        None,
        next_hint="メールのリンクを途中で切らずに開くか、事務局にお問い合わせください。",
    )


@bp.route("/actions/{token}", methods=["GET", "HEAD"])
def show_action(token: str) -> Response:
    """Safe for link scanners and previews: reads, never writes, never submits by itself."""
    settings = get_settings()
    try:
        view = describe_link(
            token, store=runtime.case_store(), roster=runtime.roster_store(), desk=runtime.desk()
        )
    except TokenRefused as exc:
        return _refused(exc, settings)
    except CaseNotFound:
        return _not_found(settings)
    except StoreBusy:
        return _busy(settings)
    for_expert = view.action in EXPERT_ACTIONS.values()
    label = _action_label(view.action.value)
    if view.action is lifecycle.Action.ASK_EXPERT:
        label = f"{view.expert_name}に依頼する"
    return _render(
        "confirm",
        200,
        settings,
        action_label=label,
        for_expert=for_expert,
        session_form=view.action is lifecycle.Action.RECORD_SESSION,
        formats=SESSION_FORMATS,
        today=runtime.now().date().isoformat(),
        case=view.case,
        actor=view.actor,
        used=view.used,
        used_label=_action_label(view.used["action"]) if view.used else "",
        refusal=view.refusal.message if view.refusal else "",
    )


@bp.route("/actions/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def do_action(token: str) -> Response:
    settings = get_settings()
    request = bp.current_request
    try:
        # The page sets no-referrer (its URL holds the token), so browsers
        # send `Origin: null` from its own button; other origins are refused.
        if header(request, "origin") != "null":
            check_origin(request, settings.allowed_origins)
        raw = request.raw_body or b""
        if len(raw) > settings.max_body_bytes:
            raise BodyTooLarge(settings.max_body_bytes)
        form = parse_qs(raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw)
        fields = {name: values[-1] for name, values in form.items() if values}
        desk = runtime.desk()
        done = act_by_link(
            token,
            note=fields.get("note", ""),
            form=fields,
            store=runtime.case_store(),
            roster=runtime.roster_store(),
            desk=desk,
        )
    except (OriginNotAllowed, BodyTooLarge):
        return _result(
            settings, 403, "この操作は受け付けられません", "何も変更されていません。", None
        )
    except TokenRefused as exc:
        return _refused(exc, settings)
    except CaseNotFound:
        return _not_found(settings)
    except LinkAlreadyUsed as exc:
        view = describe_link(
            token, store=runtime.case_store(), roster=runtime.roster_store(), desk=desk
        )
        return _result(
            settings,
            409,
            "このリンクはすでに使われています",
            f"「{_action_label(str(exc.previous.get('action')))}」は {exc.previous.get('actor')} さんが実行済みです。重ねて変更はしていません。",
            view.case,
        )
    except SessionInputInvalid as exc:
        return _result(
            settings,
            422,
            "記録できませんでした",
            exc.message + "（何も変更されていません。前の画面に戻って直してください。）",
            None,
        )
    except lifecycle.IllegalTransition as exc:
        return _result(settings, 409, "この操作はできません", exc.message, None)
    except VersionConflict:
        return _result(
            settings,
            409,
            "ほかの方が先にこの案件を更新しました",
            "何も変更されていません。最新の状態を確認してから、もう一度操作してください。",
            None,
        )
    except StoreBusy:
        return _busy(settings)
    log.info(
        "action %s on %s",
        done.action.value,
        done.case["receipt_number"],
        extra=log_keys(
            bp.current_request,
            receipt_number=done.case["receipt_number"],
            action=done.action.value,
            outcome="applied",
        ),
    )
    return _result(
        settings, 200, f"「{_action_label(done.action.value)}」を実行しました", "", done.case
    )

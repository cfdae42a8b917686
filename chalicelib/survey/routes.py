"""The requester's survey and follow-up pages: GET and HEAD show, a POST from the page's button
answers (once). Plain HTML forms: no JavaScript needed."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.core import survey as rules
from chalicelib.core.actiontoken import TokenProblem, TokenRefused
from chalicelib.core.errors import BodyTooLarge, OriginNotAllowed, StoreBusy
from chalicelib.core.settings import Settings
from chalicelib.http.request import check_origin, header, log_keys
from chalicelib.survey import i18n
from chalicelib.survey.service import (
    AnswerInvalid,
    SurveyView,
    answer_followup,
    answer_survey,
    open_followup,
    open_survey,
)

log = logging.getLogger(__name__)

bp = Blueprint(__name__)


def _headers() -> dict[str, str | list[str]]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        # The URL holds the token: it never leaves in a Referer.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _lang(view: SurveyView | None = None, posted: str | None = None) -> str:
    params = bp.current_request.query_params
    asked = params.get("lang") if params else None
    return i18n.language(posted or asked, view.language if view else None)


def _render(template: str, status: int, settings: Settings, lang: str, **context: Any) -> Response:
    # Imported here: the JSON intake path never renders pages (cold start).
    from chalicelib.templating import environment

    words = {
        key: value.replace("{desk}", settings.desk_name) for key, value in i18n.UI[lang].items()
    }
    body = (
        environment()
        .get_template(f"survey/{template}.html")
        .render(
            desk={"name": settings.desk_name, "contact": settings.desk_contact},
            lang=lang,
            html_lang=i18n.HTML_LANG[lang],
            languages=[(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
            t=words,
            satisfaction=[(value, label.get(lang)) for value, label in rules.SATISFACTION],
            progress=[(value, label.get(lang)) for value, label in rules.PROGRESS],
            followup_labels={choice: label.get(lang) for choice, label in rules.FOLLOWUP},
            **context,
        )
    )
    if bp.current_request.method == "HEAD":
        body = ""  # HEAD answers the headers only
    return Response(body=body, status_code=status, headers=_headers())


def _message(settings: Settings, lang: str, status: int, key: str) -> Response:
    t = i18n.UI[lang]
    return _render(
        "message", status, settings, lang, heading=t[f"{key}_title"], text=t[key], view=None
    )


def _refused(exc: TokenRefused, settings: Settings, lang: str) -> Response:
    if exc.problem is TokenProblem.EXPIRED:
        return _message(settings, lang, 410, "expired")
    return _message(settings, lang, 404, "invalid")


def _form(request_body: bytes | str | None, limit: int) -> dict[str, str]:
    raw = request_body or b""
    if len(raw) > limit:
        raise BodyTooLarge(limit)
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return {name: values[-1] for name, values in parse_qs(text).items() if values}


def _check_post(settings: Settings) -> dict[str, str]:
    """The posted fields; raises OriginNotAllowed or BodyTooLarge."""
    request = bp.current_request
    # The page sets no-referrer (its URL holds the token), so browsers send
    # `Origin: null` from its own button; other origins are refused.
    if header(request, "origin") != "null":
        check_origin(request, settings.allowed_origins)
    return _form(request.raw_body, settings.max_body_bytes)


@bp.route("/survey/{token}", methods=["GET", "HEAD"])
def show_survey(token: str) -> Response:
    """The survey (or, once answered, a thank-you); reading it changes nothing."""
    settings = runtime.get_settings()
    try:
        view = open_survey(
            token, store=runtime.survey_store(), roster=runtime.roster_store(), desk=runtime.desk()
        )
    except TokenRefused as exc:
        return _refused(exc, settings, _lang())
    except rules.SurveyUnavailable:
        return _message(settings, _lang(), 404, "invalid")
    except StoreBusy:
        return _message(settings, _lang(), 503, "busy")
    lang = _lang(view)
    if view.answered:
        return _render(
            "message",
            200,
            settings,
            lang,
            heading=i18n.UI[lang]["answered_title"],
            text=i18n.UI[lang]["answered"],
            view=view,
        )
    return _render("survey", 200, settings, lang, view=view, errors={}, given={})


@bp.route("/survey/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def post_survey(token: str) -> Response:
    settings = runtime.get_settings()
    fields: dict[str, str] = {}
    try:
        fields = _check_post(settings)
        view = answer_survey(
            token,
            fields,
            store=runtime.survey_store(),
            roster=runtime.roster_store(),
            desk=runtime.desk(),
        )
    except (OriginNotAllowed, BodyTooLarge):
        return _message(settings, _lang(posted=fields.get("lang")), 403, "forbidden")
    except TokenRefused as exc:
        return _refused(exc, settings, _lang(posted=fields.get("lang")))
    except rules.SurveyUnavailable:
        return _message(settings, _lang(posted=fields.get("lang")), 404, "invalid")
    except rules.SurveyAnswered as exc:
        lang = _lang(posted=fields.get("lang"))
        # A double press of the same answer: the same thanks the first press got.
        if exc.same:
            return _message(settings, lang, 200, "thanks")
        return _message(settings, lang, 409, "answered")
    except AnswerInvalid as exc:
        lang = _lang(exc.view, posted=fields.get("lang"))
        return _render(
            "survey",
            422,
            settings,
            lang,
            view=exc.view,
            errors={name: text.get(lang) for name, text in exc.errors.items()},
            given=fields,
        )
    except StoreBusy:
        return _message(settings, _lang(posted=fields.get("lang")), 503, "busy")
    log.info(
        "survey answered on %s",
        view.receipt_number,
        extra=log_keys(
            bp.current_request, receipt_number=view.receipt_number, outcome="survey_answered"
        ),
    )
    return _message(settings, _lang(view, posted=fields.get("lang")), 200, "thanks")


@bp.route("/followup/{token}", methods=["GET", "HEAD"])
def show_followup(token: str) -> Response:
    """The follow-up answer the link carries, with the button that records it (GET records
    nothing: mail scanners open every link)."""
    settings = runtime.get_settings()
    try:
        view = open_followup(
            token, store=runtime.survey_store(), roster=runtime.roster_store(), desk=runtime.desk()
        )
    except TokenRefused as exc:
        return _refused(exc, settings, _lang())
    except rules.SurveyUnavailable:
        return _message(settings, _lang(), 404, "invalid")
    except StoreBusy:
        return _message(settings, _lang(), 503, "busy")
    lang = _lang(view)
    if view.followup_answered:
        return _message(settings, lang, 200, "answered")
    return _render("followup", 200, settings, lang, view=view)


@bp.route(
    "/followup/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"]
)
def post_followup(token: str) -> Response:
    settings = runtime.get_settings()
    fields: dict[str, str] = {}
    try:
        fields = _check_post(settings)
        view = answer_followup(
            token, store=runtime.survey_store(), roster=runtime.roster_store(), desk=runtime.desk()
        )
    except (OriginNotAllowed, BodyTooLarge):
        return _message(settings, _lang(posted=fields.get("lang")), 403, "forbidden")
    except TokenRefused as exc:
        return _refused(exc, settings, _lang(posted=fields.get("lang")))
    except (rules.SurveyUnavailable, rules.SurveyInputInvalid):
        return _message(settings, _lang(posted=fields.get("lang")), 404, "invalid")
    except rules.SurveyAnswered as exc:
        lang = _lang(posted=fields.get("lang"))
        return _message(
            settings, lang, 200 if exc.same else 409, "thanks" if exc.same else "answered"
        )
    except StoreBusy:
        return _message(settings, _lang(posted=fields.get("lang")), 503, "busy")
    log.info(
        "follow-up answered on %s",
        view.receipt_number,
        extra=log_keys(
            bp.current_request, receipt_number=view.receipt_number, outcome="followup_answered"
        ),
    )
    return _message(settings, _lang(view, posted=fields.get("lang")), 200, "thanks")

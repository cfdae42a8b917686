"""GET /openapi.json: the public and admin API described from the pydantic models (no auth).

The public operations are declared here, next to the models of the bodies
they answer (errors, health); the admin operations come from the registry
every `admin_route` fills (api/admin/auth.py ROUTES), so a new admin route is
described without anyone remembering to. tests/app/test_openapi.py checks
that every route of the app is in the document, and schemathesis
(tests/integration/test_schemathesis.py) that the live API answers as it says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import runtime
from chalicelib.admin.auth import ROUTES, RouteDoc
from chalicelib.admin.routes.access import AUDIT_TARGETS
from chalicelib.core.case_admin import ADMIN_ACTIONS
from chalicelib.core.consultation import ConsultationCreate, ConsultationReceipt
from chalicelib.core.deployment import Deployment
from chalicelib.http.errors import json_response
from chalicelib.http.openapi_doc import Body, Header, Operation, Reply, build_document
from chalicelib.intake.formdata import CONTROL_FIELDS, FIELD_ORDER, LIST_FIELDS
from chalicelib.intake.i18n import LANGUAGES

bp = Blueprint(__name__)

TITLE = "dx-desk API"
VERSION = "1.0.0"
DESCRIPTION = (
    "DX相談窓口の受付API（公開）と管理API（/admin、Bearerトークン）。"
    " The desk's public intake API and the admin API (/admin, bearer token)."
    " Errors are JSON with a Japanese `message` and an English `message_en`;"
    " validation errors list each field (`errors`), never echoing a submitted value."
)


# The models below only describe bodies: they build their schemas on first use
# (defer_build), so the Lambda functions that import the app never pay for them.
class FieldErrorBody(BaseModel):
    """One field at fault (http/errors.py error_response)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    field: str
    code: str
    message: str
    message_en: str
    loc: list[str | int]
    message_html: Annotated[
        str | None,
        Field(description="Only from /form/check?lang=easy: the message with readings as <ruby>."),
    ] = None


class ErrorBody(BaseModel):
    """Every error the desk answers itself (http/errors.py error_response)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: str
    message: str
    message_en: str
    errors: Annotated[
        list[FieldErrorBody] | None,
        Field(description="Only on validation errors (422): one entry per field at fault."),
    ] = None


class ConfirmAgainBody(BaseModel):
    """409 on a form submission that stored nothing: press 送信する once more (intake/routes.py)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: Literal["confirm_again"]
    reason: Literal["too_fast", "token_used"]
    message: str
    message_en: str
    form_token: Annotated[str, Field(description="A fresh render token to send with that press")]


class HealthStatus(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: Literal["ok"]
    service: str


class FormCheckOk(BaseModel):
    model_config = ConfigDict(defer_build=True)

    ok: Literal[True]


# Answers given before the desk's code runs: deployed, API Gateway's carry ErrorBody
# (infra/resources.yaml); `chalice local` (make dev) gives its own emulation's.
GATEWAY_ERROR: dict[str, Any] = {
    "description": "chalice local's answer for API Gateway (authorizer refusal, unknown route)",
    "type": "object",
    "properties": {"message": {"type": ["string", "null"]}, "Message": {"type": "string"}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


JSON = "application/json"
HTML = "text/html"
PLAIN = "text/plain"
FORM = "application/x-www-form-urlencoded"
CSV = "text/csv"
TEXT_SCHEMA: dict[str, Any] = {"type": "string"}
ERROR = (Body(JSON, ErrorBody),)
RETRY = {"Retry-After": "Seconds to wait before trying again"}


def _error(status: int, description: str) -> Reply:
    return Reply(status, description, ERROR, RETRY if status in (429, 503) else {})


# Chalice answers a Content-Type the route does not accept before the view runs;
# api/middleware.py gives the answer the documented body.
UNSUPPORTED = _error(415, "Content-Type not accepted by this route")


def _page(status: int, description: str) -> Reply:
    return Reply(status, description, (Body(HTML, schema=TEXT_SCHEMA),))


def _form_schema(fields: tuple[str, ...]) -> dict[str, Any]:
    """An urlencoded form: named string fields (lists repeat the name), anything else as text."""
    properties: dict[str, Any] = {}
    for name in fields:
        properties[name] = (
            {"type": "array", "items": {"type": "string"}} if name in LIST_FIELDS else TEXT_SCHEMA
        )
    return {"type": "object", "properties": properties, "additionalProperties": TEXT_SCHEMA}


FORM_FIELDS = (*FIELD_ORDER, *sorted(CONTROL_FIELDS))
LANG = {"lang": {"type": "string", "enum": list(LANGUAGES)}}
FRAMED = {"embed": {"type": "string", "enum": ["1"], "description": "1: the page is framed"}}
TOKEN_PARAM = {"token": {"type": "string", "minLength": 1, "maxLength": 2048}}
ACTION_FIELDS = ("note", "session_date", "session_format", "report")
# The survey's fields (rating_<expert id> per expert consulted, optional).
SURVEY_FIELDS = ("lang", "satisfaction", "progress", "comment")
SURVEY_LANG = {"lang": {"type": "string", "enum": ["ja", "en", "easy"]}}


def public_operations() -> list[Operation]:
    tags = ("public",)
    return [
        Operation(
            "/consultations",
            "POST",
            "相談を受け付ける / Submit a consultation (the contract the form posts too); "
            "`lang` (ja, en, easy): the language of the requester's mail and of the "
            "messages of a 409",
            tags,
            query_schema=LANG,
            request=(Body(JSON, ConsultationCreate),),
            headers=(
                Header(
                    "Idempotency-Key",
                    "同じキーの再送は最初の受付番号を返す / a retry with the same key returns the first receipt",
                    {"type": "string", "minLength": 1, "maxLength": 128},
                ),
            ),
            replies=(
                Reply(
                    201,
                    "Received (also a repeat of an earlier submission)",
                    (Body(JSON, ConsultationReceipt),),
                    {"Idempotent-Replayed": "true when this repeats an earlier submission"},
                ),
                _error(400, "The body is not a JSON object, or a bad Idempotency-Key"),
                _error(403, "Posted from an origin that is not allowed"),
                _error(413, "The body is over MAX_BODY_BYTES"),
                Reply(
                    409,
                    "From the form: sent too soon after rendering, or its token already stored "
                    "a different case; nothing stored, send once more with the fresh token",
                    (Body(JSON, ConfirmAgainBody),),
                ),
                UNSUPPORTED,
                _error(422, "Field errors (each named; values never echoed)"),
                _error(429, "Too many submissions from this client in an hour"),
                _error(503, "The store is busy; nothing was stored"),
            ),
        ),
        Operation(
            "/consultations",
            "OPTIONS",
            "CORS preflight (answered for configured origins only)",
            tags,
            headers=(Header("Origin", "The page's origin", TEXT_SCHEMA),),
            replies=(
                Reply(
                    204, "Allowed: CORS headers", (), {"Access-Control-Allow-Origin": "The origin"}
                ),
                _error(400, "Not a CORS preflight (no Origin)"),
                _error(403, "Origin not allowed"),
            ),
        ),
        Operation(
            "/",
            "GET",
            "API のルート：相談フォームへ転送 / The API root: forwards to the form's input page",
            ("form",),
            query_schema=LANG,
            replies=(Reply(302, "To form/input", (), {"Location": "form/input?lang=…"}),),
        ),
        Operation(
            "/health",
            "GET",
            "Liveness (touches no AWS service)",
            tags,
            replies=(Reply(200, "Alive", (Body(JSON, HealthStatus),)),),
        ),
        Operation(
            "/openapi.json",
            "GET",
            "This document",
            tags,
            replies=(Reply(200, "OpenAPI 3.1", (Body(JSON, schema={"type": "object"}),)),),
        ),
        Operation(
            "/form",
            "GET",
            "相談フォーム（入力画面へ転送） / The form's address: forwards to the input page",
            ("form",),
            query_schema=LANG,
            replies=(Reply(302, "To form/input", (), {"Location": "form/input?lang=…"}),),
        ),
        Operation(
            "/form/input",
            "GET",
            "入力画面 / The input page",
            ("form",),
            query_schema={**LANG, **FRAMED},
            replies=(_page(200, "The form"),),
        ),
        Operation(
            "/form/confirm",
            "POST",
            "確認画面 / The review page (or the input page again with the errors)",
            ("form",),
            request=(Body(FORM, schema=_form_schema(FORM_FIELDS)),),
            replies=(
                _page(200, "Review page"),
                Reply(
                    400,
                    "Token expired or unreadable: the form again, nothing lost; or an unreadable body",
                    (Body(HTML, schema=TEXT_SCHEMA), Body(PLAIN, schema=TEXT_SCHEMA)),
                ),
                Reply(403, "Foreign origin", (Body(PLAIN, schema=TEXT_SCHEMA),)),
                Reply(413, "Body too large", (Body(PLAIN, schema=TEXT_SCHEMA),)),
                UNSUPPORTED,
                _page(422, "The form again with each field's error"),
            ),
        ),
        Operation(
            "/form/submit",
            "POST",
            "送信して完了画面へ / Store the consultation; the done page with the receipt number",
            ("form",),
            request=(Body(FORM, schema=_form_schema(FORM_FIELDS)),),
            replies=(
                _page(200, "Done page of a stored case (or the input page when going back)"),
                Reply(
                    400,
                    "Sent too soon, or the token expired: the review page again, nothing "
                    "stored, nothing lost; or an unreadable body or repeated field",
                    (Body(HTML, schema=TEXT_SCHEMA), Body(PLAIN, schema=TEXT_SCHEMA)),
                ),
                _page(409, "The token already stored a different case: the review page again"),
                Reply(403, "Foreign origin", (Body(PLAIN, schema=TEXT_SCHEMA),)),
                Reply(413, "Body too large", (Body(PLAIN, schema=TEXT_SCHEMA),)),
                UNSUPPORTED,
                _page(422, "The form again with each field's error"),
                _page(429, "Too many submissions: the review page again, nothing lost"),
                _page(503, "Busy: the review page again, nothing lost"),
            ),
        ),
        Operation(
            "/form/check",
            "POST",
            "入力チェック（保存しない） / Inline validation for the enhanced form; stores nothing",
            ("form",),
            query_schema=LANG,
            request=(Body(JSON, schema={"type": "object"}),),
            replies=(
                Reply(200, "Valid", (Body(JSON, FormCheckOk),)),
                _error(400, "Not a JSON object"),
                _error(403, "Foreign origin"),
                _error(413, "Body too large"),
                UNSUPPORTED,
                _error(422, "Field errors"),
            ),
        ),
        Operation(
            "/form/static/{name}",
            "GET",
            "The form's stylesheet and scripts",
            ("form",),
            path_params={"name": {"type": "string", "enum": ["form.css", "form.js", "embed.js"]}},
            replies=(
                Reply(
                    200,
                    "The file",
                    (
                        Body("text/css", schema=TEXT_SCHEMA),
                        Body("text/javascript", schema=TEXT_SCHEMA),
                    ),
                ),
                Reply(404, "No such file", (Body(PLAIN, schema=TEXT_SCHEMA),)),
            ),
        ),
        *[
            Operation(
                "/actions/{token}",
                method,
                "メールのリンク：確認画面（何も変更しない） / A mail link's confirmation page; changes nothing",
                ("actions",),
                path_params=TOKEN_PARAM,
                replies=(
                    _page(200, "What the link would do, with the button that does it"),
                    _page(404, "Not a valid link, not for this recipient, or no such case"),
                    _page(410, "The link has expired"),
                    _page(503, "Busy; nothing changed"),
                ),
            )
            for method in ("GET", "HEAD")
        ],
        Operation(
            "/actions/{token}",
            "POST",
            "メールのリンク：実行 / Do what the link says (once)",
            ("actions",),
            path_params=TOKEN_PARAM,
            request=(Body(FORM, schema=_form_schema(ACTION_FIELDS)),),
            request_required=False,
            replies=(
                _page(200, "Done"),
                _page(403, "Posted from a foreign origin; nothing changed"),
                _page(404, "Not a valid link or no such case"),
                _page(409, "Used before, no longer applicable, or someone acted first"),
                _page(410, "The link has expired"),
                UNSUPPORTED,
                _page(422, "The session record is incomplete"),
                _page(503, "Busy; nothing changed"),
            ),
        ),
        *survey_operations(),
    ]


def requester_operations() -> list[Operation]:
    """The requester's own page (chalicelib/requester): GET and HEAD show, POST acts once."""
    tags = ("requester",)
    shows = [
        _page(200, "The page"),
        _page(404, "Not a valid link, or not this case's requester"),
        _page(410, "The link has expired (the case's retention ended)"),
        _page(503, "Busy; nothing changed"),
    ]
    acts = [
        _page(200, "Done"),
        _page(403, "Posted from a foreign origin; nothing changed"),
        _page(404, "Not a valid link or action token; nothing changed"),
        _page(409, "Done before (said so), no longer open, or the page was open too long"),
        _page(410, "The link has expired"),
        _page(413, "Body too large; nothing changed"),
        UNSUPPORTED,
        _page(422, "The text needs fixing: the page again, what was typed kept"),
        _page(503, "Busy; nothing changed"),
    ]
    act_form = {
        "type": "object",
        "properties": {"act": TEXT_SCHEMA, "lang": LANG["lang"], "text": TEXT_SCHEMA},
        "additionalProperties": TEXT_SCHEMA,
    }
    withdraw_form = {
        "type": "object",
        "properties": {"act": TEXT_SCHEMA, "lang": LANG["lang"], "reason": TEXT_SCHEMA},
        "additionalProperties": TEXT_SCHEMA,
    }
    lookup_form = {
        "type": "object",
        "properties": {"receipt_number": TEXT_SCHEMA, "email": TEXT_SCHEMA, "lang": LANG["lang"]},
        "additionalProperties": TEXT_SCHEMA,
    }
    return [
        *[
            Operation(
                "/my/{token}",
                method,
                "相談者のページ：状況を見る（何も変更しない） / The requester's page; changes nothing",
                tags,
                query_schema=LANG,
                path_params=TOKEN_PARAM,
                replies=tuple(shows),
            )
            for method in ("GET", "HEAD")
        ],
        Operation(
            "/my/{token}/add",
            "POST",
            "相談者のページ：追記 / Add information to the case (once per action token)",
            tags,
            path_params=TOKEN_PARAM,
            request=(Body(FORM, schema=act_form),),
            replies=tuple(acts),
        ),
        *[
            Operation(
                "/my/{token}/withdraw",
                method,
                "相談者のページ：取下げの確認（何も変更しない） / Withdrawal confirmation; changes nothing",
                tags,
                query_schema=LANG,
                path_params=TOKEN_PARAM,
                replies=(*shows, _page(409, "The case can no longer be withdrawn")),
            )
            for method in ("GET", "HEAD")
        ],
        Operation(
            "/my/{token}/withdraw",
            "POST",
            "相談者のページ：取下げ / Withdraw the case (once per action token)",
            tags,
            path_params=TOKEN_PARAM,
            request=(Body(FORM, schema=withdraw_form),),
            request_required=False,
            replies=tuple(acts),
        ),
        *[
            Operation(
                "/my/lookup",
                method,
                "ページのリンクを受け取る：入力画面 / Get the page link again: the form",
                tags,
                query_schema=LANG,
                replies=(_page(200, "The form"),),
            )
            for method in ("GET", "HEAD")
        ],
        Operation(
            "/my/lookup",
            "POST",
            "ページのリンクを受け取る：受付番号とメールアドレスが一致すればメールで送る（一致しても"
            "しなくても同じ答え） / Mail the page link if the pair matches; the same answer either way",
            tags,
            request=(Body(FORM, schema=lookup_form),),
            replies=(
                _page(200, "The same answer whether the pair matched or not"),
                _page(403, "Posted from a foreign origin"),
                _page(413, "Body too large"),
                UNSUPPORTED,
                _page(422, "The receipt number or address is not in a usable form"),
                Reply(
                    429,
                    "Too many lookups from this client or for this address this hour",
                    (Body(HTML, schema=TEXT_SCHEMA),),
                    RETRY,
                ),
                _page(503, "Busy"),
            ),
        ),
    ]


def survey_operations() -> list[Operation]:
    """The requester's satisfaction survey and follow-up pages (chalicelib/survey)."""
    tags = ("survey",)
    shown = (
        _page(404, "Not a valid survey link, not this requester's, or no such case"),
        _page(410, "The link has expired"),
        _page(503, "Busy; nothing changed"),
    )
    operations = []
    for method in ("GET", "HEAD"):
        operations += [
            Operation(
                "/survey/{token}",
                method,
                "満足度アンケート：回答画面（何も記録しない） / The satisfaction survey; records nothing",
                tags,
                path_params=TOKEN_PARAM,
                query_schema=SURVEY_LANG,
                replies=(_page(200, "The survey, or a thank-you once answered"), *shown),
            ),
            Operation(
                "/followup/{token}",
                method,
                "フォローアップ：確認画面（何も記録しない） / The follow-up answer's confirmation; records nothing",
                tags,
                path_params=TOKEN_PARAM,
                query_schema=SURVEY_LANG,
                replies=(_page(200, "The answer the link carries, with the button"), *shown),
            ),
        ]
    refused = (
        _page(403, "Posted from a foreign origin, or too large; nothing stored"),
        _page(409, "Answered before (a second answer is refused politely)"),
        UNSUPPORTED,
        *shown,
    )
    operations += [
        Operation(
            "/survey/{token}",
            "POST",
            "満足度アンケート：回答する（1回のみ） / Answer the survey (once)",
            tags,
            path_params=TOKEN_PARAM,
            request=(Body(FORM, schema=_form_schema(SURVEY_FIELDS)),),
            replies=(
                _page(200, "Thank you (also for a double press of the same answer)"),
                _page(422, "The survey again with each field's error, nothing lost"),
                *refused,
            ),
        ),
        Operation(
            "/followup/{token}",
            "POST",
            "フォローアップ：回答する（1回のみ） / Record the follow-up answer the link carries (once)",
            tags,
            path_params=TOKEN_PARAM,
            request=(Body(FORM, schema=_form_schema(("lang",))),),
            request_required=False,
            replies=(_page(200, "Thank you"), *refused),
        ),
    ]
    return operations


def _admin_request(route: RouteDoc, content_types: list[str]) -> tuple[Body, ...]:
    if route.body is None and content_types == [JSON]:
        return ()
    bodies = []
    for content_type in content_types:
        if content_type == JSON:
            bodies.append(
                Body(JSON, route.body)
                if route.body is not None
                else Body(JSON, schema={"type": "object"})
            )
        else:
            bodies.append(Body(content_type, schema=TEXT_SCHEMA))
    return tuple(bodies)


def _admin_success(route: RouteDoc) -> tuple[Body, ...]:
    if route.response is not None and route.staff_response is not None:
        # Admin tokens get `response`, staff tokens the smaller `staff_response`.
        return (Body(JSON, any_of=(route.response, route.staff_response)),)
    if route.response is not None:
        return (Body(JSON, route.response),)
    if route.path.endswith(".csv"):
        return (Body(CSV, schema=TEXT_SCHEMA),)
    return (Body(JSON, schema={"type": "object"}),)


# What the admin routes' path parameters may be (the registry names none):
# schemathesis then aims most requests at real targets, and the rest are
# documented 404s.
ADMIN_PATH_PARAMS: dict[str, dict[str, Any]] = {
    "receipt_number": {"type": "string", "pattern": r"^DX-\d{6}-\d{6}$"},
    "action": {"type": "string", "enum": sorted(a.value for a in ADMIN_ACTIONS)},
    "month": {"type": "string", "pattern": r"^20\d{2}-(0[1-9]|1[0-2])$"},
    "expert_id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"},
    "token_id": {"type": "string", "pattern": r"^[0-9a-f]{8}$"},
    "target_type": {"type": "string", "enum": list(AUDIT_TARGETS)},
}


# Admin routes that may answer a status with their own report as well as with
# ErrorBody (the registry names one response model per route): the roster
# import's 422 is its report, listing each row at fault.
REPORT_ON_ERROR: dict[tuple[str, str], frozenset[int]] = {
    ("/admin/experts/import", "post"): frozenset({422}),
}


def admin_operations(
    routes: list[RouteDoc], content_types: Mapping[tuple[str, str], list[str]]
) -> list[Operation]:
    """One operation per registered admin route, with the errors every admin route may give."""
    operations = []
    for route in routes:
        types = content_types.get((route.path, route.method.upper()), [route.content_type])
        success = _admin_success(route)
        replies = [Reply(200, "OK", success)]
        if route.method.upper() == "POST":
            replies.append(Reply(201, "Created", success))
        replies += [
            _error(400, "The body is not a JSON object (or too large)"),
            Reply(
                401,
                "No bearer token",
                (Body(JSON, schema={"anyOf": [_ref("ErrorBody"), _ref("GatewayError")]}),),
            ),
            Reply(
                403,
                "Token invalid, revoked or expired, or the role may not do this",
                (Body(JSON, schema={"anyOf": [_ref("ErrorBody"), _ref("GatewayError")]}),),
            ),
            _error(404, "No such target"),
            _error(409, "Someone changed it first, or it exists already"),
            _error(422, "Field errors (each named; values never echoed)"),
            _error(503, "The store is busy; nothing was changed"),
        ]
        reports = REPORT_ON_ERROR.get((route.path, route.method.lower()), frozenset())
        if route.response is not None:
            either = (Body(JSON, any_of=(ErrorBody, route.response)),)
            replies = [
                Reply(r.status, r.description, either) if r.status in reports else r
                for r in replies
            ]
        request = _admin_request(route, types)
        if request:
            replies.append(UNSUPPORTED)
        operations.append(
            Operation(
                route.path,
                route.method,
                route.summary,
                ("admin",),
                replies=tuple(sorted(replies, key=lambda r: r.status)),
                request=request,
                query=route.query,
                path_params=ADMIN_PATH_PARAMS,
                secured=True,
                extensions={"x-role": route.role},
            )
        )
    return operations


CONSOLE_STATUS = {
    200: "The page",
    303: "Done, or no session: on to the next page (sign-in when signed out)",
    401: "Posted after the session ended: nothing changed; what was typed, to copy",
    403: "Role not allowed, or a post without a valid CSRF token (nothing changed): a page",
    404: "No such target: a page",
    409: "Someone changed it first: a page",
    410: "The sign-in link is invalid, used or expired: a page",
    413: "Too large: a page",
    422: "The form again with each field's error",
    429: "Too many sign-in requests: a page",
    503: "Busy; nothing changed: a page",
}


def console_operations() -> list[Operation]:
    """The console's HTML pages (console/web.py registers each with its role and form)."""
    from chalicelib.console.routes import PAGES

    operations = []
    for doc in PAGES:
        posted = {403} | ({401} if doc.role else set()) if doc.method == "post" else set()
        statuses = sorted({*doc.statuses, 303, 503} | posted)
        replies = tuple(
            Reply(status, CONSOLE_STATUS[status], (Body(HTML, schema=TEXT_SCHEMA),))
            if status != 303
            else Reply(303, CONSOLE_STATUS[303], (), {"Location": "The next page"})
            for status in statuses
        )
        request: tuple[Body, ...] = ()
        if doc.content_type:
            schema = {
                "type": "object",
                "properties": {name: TEXT_SCHEMA for name in doc.fields},
                "additionalProperties": TEXT_SCHEMA,
            }
            request = (Body(doc.content_type, schema=schema),)
        operations.append(
            Operation(
                doc.path,
                doc.method,
                doc.summary,
                ("console",),
                replies=(*replies, UNSUPPORTED) if request else replies,
                request=request,
                path_params={
                    name: {"type": "string", "maxLength": 128}
                    for name in re.findall(r"{(\w+)}", doc.path)
                },
                extensions={
                    "x-role": doc.role or "none",
                    "x-session": "cookie dxd_console (HttpOnly, SameSite=Strict; docs/console.md)",
                },
            )
        )
    operations.append(
        Operation(
            "/console/static/{name}",
            "GET",
            "The console's stylesheet",
            ("console",),
            path_params={"name": {"type": "string", "enum": ["console.css"]}},
            replies=(
                Reply(200, "The file", (Body("text/css", schema=TEXT_SCHEMA),)),
                Reply(404, "No such file", (Body(PLAIN, schema=TEXT_SCHEMA),)),
            ),
        )
    )
    return operations


@lru_cache(maxsize=8)
def _document(
    admin_types: tuple[tuple[tuple[str, str], tuple[str, ...]], ...],
    choices: tuple[tuple[str, tuple[str, ...]], ...],
) -> str:
    enums = dict(choices)
    operations = (
        public_operations()
        + requester_operations()
        + admin_operations(list(ROUTES), {key: list(types) for key, types in admin_types})
        + console_operations()
    )
    document = build_document(
        operations,
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "dxd_… token issued by POST /admin/tokens (only its digest is stored)",
            }
        },
        extra_schemas={"GatewayError": GATEWAY_ERROR},
        property_extras={
            ConsultationCreate: {
                "municipality": {"enum": list(enums["municipality"])},
                "category": {"enum": list(enums["category"])},
                "support_types": {
                    "items": {"type": "string", "enum": list(enums["support_types"])}
                },
                "privacy_notice_version": {
                    "anyOf": [
                        {"type": "string", "enum": list(enums["privacy_notice_version"])},
                        {"type": "null"},
                    ]
                },
                "email": {"format": "email", "maxLength": 254},
            }
        },
    )
    return json.dumps(document, ensure_ascii=False)


def document_json(routes: Mapping[str, Mapping[str, Any]], deployment: Deployment) -> str:
    """The document for an app's routes (their accepted content types) and a deployment's lists."""
    admin_types = tuple(
        sorted(
            ((path, method), tuple(entry.content_types))
            for path, methods in routes.items()
            if path.startswith("/admin/")
            for method, entry in methods.items()
        )
    )
    choices = (
        ("municipality", tuple(deployment.municipalities)),
        ("category", tuple(deployment.active_categories())),
        ("support_types", tuple(deployment.active_support_types())),
        ("privacy_notice_version", (deployment.privacy_notice_version,)),
    )
    return _document(admin_types, choices)


def document(routes: Mapping[str, Mapping[str, Any]], deployment: Deployment) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document_json(routes, deployment))
    return loaded


@bp.route("/openapi.json", methods=["GET"])
def openapi_json() -> Response:
    body = document_json(bp.current_app.routes, runtime.directory().deployment)
    return json_response(body, 200, {"Cache-Control": "public, max-age=300"})

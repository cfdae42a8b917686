"""Admin authentication: the built-in authorizer, the role check in every view, the route registry.

Every /admin route is declared through `admin_route`, which attaches the
authorizer (API Gateway refuses a request without a valid token before the
API function runs: 401 with no header, 403 with a bad, revoked or expired
token, or a route outside the token's role) and checks the role again in the
view (defence in depth: a policy mistake in one is caught by the other). It
also records the route's request and response models for /openapi.json.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice.app import AuthRequest, AuthResponse, AuthRoute, Blueprint, Request, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib import runtime
from chalicelib.core import access as admin
from chalicelib.core.errors import FieldError, InvalidAdminInput, MalformedBody, RoleForbidden
from chalicelib.http.errors import json_errors, json_response

bp = Blueprint(__name__)

# API Gateway caches an authorizer's answer per token: a revoked token keeps
# working for at most this long.
AUTH_CACHE_SECONDS = 60
MAX_ADMIN_BODY = 1_048_576  # a CSV roster of a few hundred rows fits easily


@bp.authorizer(ttl_seconds=AUTH_CACHE_SECONDS)
def admin_auth(auth_request: AuthRequest) -> AuthResponse:
    """Who holds this bearer token, and which /admin routes that role may call."""
    deny = AuthResponse(routes=[], principal_id="anonymous")
    token = admin.token_from_header(auth_request.token)
    if token is None:
        return deny
    record = runtime.admin_store().get_token(admin.token_digest(token))
    if record is None or not admin.token_usable(record, int(runtime.now().timestamp())):
        return deny
    role = str(record["role"])
    return AuthResponse(
        routes=[AuthRoute(path, [method]) for method, path in admin.routes_for(role)],
        principal_id=str(record["token_id"]),
        context={
            "role": role,
            "actor": str(record.get("actor") or record["token_id"]),
            "token_id": str(record["token_id"]),
        },
    )


@dataclass(frozen=True)
class RouteDoc:
    """What /openapi.json says about one admin route."""

    path: str
    method: str
    role: admin.Role
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    query: type[BaseModel] | None
    content_type: str
    # What a staff token gets instead of `response` on a route both roles read
    # (less than an admin: no personal data staff do not need).
    staff_response: type[BaseModel] | None = None


ROUTES: list[RouteDoc] = []


def actor_of(request: Request) -> admin.Actor:
    context = request.context or {}
    auth = context.get("authorizer") or {}
    role = auth.get("role")
    if role not in admin.ROLES:
        raise RoleForbidden()
    return admin.Actor(
        role=str(role),
        actor=str(auth.get("actor") or ""),
        token_id=str(auth.get("token_id") or ""),
        request_id=str(context.get("requestId") or uuid.uuid4().hex),
    )


def require(request: Request, needed: admin.Role) -> admin.Actor:
    actor = actor_of(request)
    if not admin.allows(actor.role, needed):
        raise RoleForbidden()
    return actor


ADMIN_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def ok(body: Any, status: int = 200) -> Response:
    return json_response(json.dumps(body, ensure_ascii=False, default=str), status, ADMIN_HEADERS)


# pydantic error type → the Japanese message for it ({name}: the field or
# parameter, {bound}: the limit it broke); anything else gets the general one.
_MESSAGES_JA = {
    "greater_than_equal": "「{name}」は{bound}以上で指定してください。",
    "greater_than": "「{name}」は{bound}より大きい値で指定してください。",
    "less_than_equal": "「{name}」は{bound}以下で指定してください。",
    "less_than": "「{name}」は{bound}より小さい値で指定してください。",
    "extra_forbidden": "「{name}」は指定できない項目です。",
}
_BOUNDS = ("ge", "gt", "le", "lt")


def field_errors(exc: ValidationError) -> InvalidAdminInput:
    """Pydantic errors as field errors, never echoing the submitted value."""
    found = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error.get("loc") or ())
        # A parameter's name may be anything the caller sent: shown, but bounded.
        name = ".".join(str(part) for part in loc)[:64] or "body"
        code = str(error.get("type", "invalid"))
        ctx = error.get("ctx") or {}
        bound = next((ctx[key] for key in _BOUNDS if key in ctx), "")
        template = _MESSAGES_JA.get(code, "「{name}」の値が正しくありません。")
        found.append(
            FieldError(
                field=name,
                code=code,
                message=template.format(name=name, bound=bound),
                message_en=str(error.get("msg", "Invalid value")),
                loc=loc,
            )
        )
    return InvalidAdminInput(found)


def parse_body(request: Request, model: type[BaseModel]) -> Any:
    raw = request.raw_body or b""
    if len(raw) > MAX_ADMIN_BODY:
        raise MalformedBody()
    try:
        data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedBody() from None
    if not isinstance(data, dict):
        raise MalformedBody()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc) from None


class NoQuery(BaseModel):
    """The query of a route that takes none: any parameter is refused by name."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def parse_query(request: Request, model: type[BaseModel]) -> Any:
    """The query string as `model`; a parameter given twice is refused (which one would count?)."""
    given: dict[str, list[str]] = {}
    if request.query_params is not None:
        given = {name: request.query_params.getlist(name) for name in request.query_params}
    repeated = sorted(name[:64] for name, values in given.items() if len(values) > 1)
    if repeated:
        raise InvalidAdminInput(
            [
                FieldError(
                    field=name,
                    code="repeated",
                    message=f"「{name}」が2回以上指定されています。1回だけ指定してください。",
                    message_en=f"'{name}' is given more than once; give it once.",
                    loc=(name,),
                )
                for name in repeated
            ]
        )
    try:
        return model.model_validate({name: values[-1] for name, values in given.items()})
    except ValidationError as exc:
        raise field_errors(exc) from None


def admin_route(
    blueprint: Blueprint,
    path: str,
    *,
    method: str,
    role: admin.Role,
    summary: str,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    content_types: list[str] | None = None,
    staff_response: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Declare an /admin route: authorizer, role check, JSON errors, OpenAPI record."""
    if not path.startswith("/admin/"):
        raise ValueError(f"admin routes live under /admin: {path}")
    if staff_response is not None and role != "staff":
        raise ValueError(f"only a route staff may call has a staff view: {path}")
    types = content_types or ["application/json"]
    ROUTES.append(
        RouteDoc(
            path, method.lower(), role, summary, body, response, query, types[0], staff_response
        )
    )

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        @json_errors()
        def checked(*args: Any, **kwargs: Any) -> Response:
            actor = require(blueprint.current_request, role)
            if query is None:
                parse_query(blueprint.current_request, NoQuery)
            return view(actor, *args, **kwargs)

        blueprint.route(path, methods=[method], authorizer=admin_auth, content_types=types)(checked)
        return view

    return decorate

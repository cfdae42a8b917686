"""Pydantic models: the public intake contract (input) and what the API returns (output).

Validation needs the deployment's lists (municipalities, categories, support
types), passed as validation context:
`ConsultationCreate.model_validate(data, context={"deployment": d})`. Categories
and support types are the current taxonomy's active entries (core/directory.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.core import choices, text
from chalicelib.core.deployment import Deployment
from chalicelib.core.errors import FieldError, InvalidSubmission
from chalicelib.core.messages import MESSAGES, field_error

RequesterType = Literal["resident", "business", "municipality", "prefecture", "other"]
PreferredFormat = Literal["online", "visit", "either"]

# Length limits (characters, after normalisation).
MAX_NAME = 100
MAX_ORGANIZATION = 200
MAX_EMAIL = 254
MAX_MESSAGE = 4000


def _custom(exc: text.TextError) -> PydanticCustomError:
    return PydanticCustomError(exc.code, exc.code, dict(exc.params))


def _blank_to_none(value: Any) -> Any:
    # An HTML form sends an untouched optional field as "".
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _text(normalize: Callable[..., str], max_length: int) -> AfterValidator:
    """A validator that normalises with `normalize` and refuses what is left empty."""

    def check(value: str) -> str:
        try:
            result = normalize(value, max_length=max_length)
        except text.TextError as exc:
            raise _custom(exc) from None
        if not result:
            raise PydanticCustomError("missing", "missing")
        return result

    return AfterValidator(check)


def _short(max_length: int) -> AfterValidator:
    return _text(text.normalize_short, max_length)


def _long(max_length: int) -> AfterValidator:
    return _text(text.normalize_long, max_length)


def _email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        normalized = text.normalize_short(value, max_length=MAX_EMAIL)
    except text.TextError as exc:
        raise _custom(exc) from None
    if not normalized:
        # An empty box asks for the address, not for its shape.
        raise PydanticCustomError("missing", "missing")
    try:
        # Syntax only: a DNS lookup on the request path would be slow and
        # would refuse addresses of domains that are briefly unreachable.
        result = validate_email(normalized, check_deliverability=False)
    except EmailNotValidError:
        raise PydanticCustomError("invalid_email", "invalid_email") from None
    return str(result.normalized)


def _phone(value: str) -> str:
    if len(value) > 40:
        raise PydanticCustomError("invalid_phone", "invalid_phone")
    try:
        return text.normalize_phone(value)
    except text.TextError as exc:
        raise _custom(exc) from None


def _kana(value: str) -> str:
    try:
        return text.check_kana(value)
    except text.TextError as exc:
        raise _custom(exc) from None


# Raw lengths are bounded by the body limit; each limit below is checked after
# normalisation, so the message names the length the requester can act on.
ShortName = Annotated[str, _short(MAX_NAME)]
Organization = Annotated[str, _short(MAX_ORGANIZATION)]
Email = Annotated[str, AfterValidator(_email)]
Phone = Annotated[str, AfterValidator(_phone)]
Kana = Annotated[str, _short(MAX_NAME), AfterValidator(_kana)]
ChoiceId = str
Message = Annotated[str, _long(MAX_MESSAGE)]


class ConsultationCreate(BaseModel):
    """The public intake contract: `POST /consultations` and the HTML form post the same fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester_type: RequesterType
    organization: Annotated[Organization | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, validate_default=True
    )
    name: ShortName
    name_kana: Annotated[Kana | None, BeforeValidator(_blank_to_none)] = None
    email: Email
    phone: Annotated[Phone | None, BeforeValidator(_blank_to_none)] = None
    municipality: ChoiceId
    support_types: Annotated[list[ChoiceId], Field(min_length=1, max_length=10)]
    category: ChoiceId
    message: Message
    preferred_format: PreferredFormat
    # Strict: only JSON `true` is consent ("yes", 1 or "true" are not; the HTML form
    # decodes its checkbox to a real boolean, intake/formdata.py).
    privacy_consent: StrictBool
    privacy_notice_version: Annotated[ChoiceId | None, BeforeValidator(_blank_to_none)] = None

    @field_validator("organization")
    @classmethod
    def _organization_unless_resident(cls, value: str | None, info: ValidationInfo) -> str | None:
        requester_type = info.data.get("requester_type")
        if value is None and requester_type is not None and requester_type != "resident":
            raise PydanticCustomError("organization_required", "organization_required")
        return value

    @field_validator("support_types")
    @classmethod
    def _unique_support_types(cls, value: list[str], info: ValidationInfo) -> list[str]:
        offered = _deployment(info).active_support_types()
        if any(not _offered(item, offered, info) for item in value):
            raise PydanticCustomError("invalid_choice", "invalid_choice")
        return list(dict.fromkeys(value))

    @field_validator("municipality")
    @classmethod
    def _known_municipality(cls, value: str, info: ValidationInfo) -> str:
        if value not in _deployment(info).municipalities:
            raise PydanticCustomError("invalid_choice", "invalid_choice")
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        if not _offered(value, _deployment(info).active_categories(), info):
            raise PydanticCustomError("invalid_choice", "invalid_choice")
        return value

    @field_validator("privacy_consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if value is not True:
            raise PydanticCustomError("consent_required", "consent_required")
        return value

    @field_validator("privacy_notice_version")
    @classmethod
    def _current_notice(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value != _deployment(info).privacy_notice_version:
            raise PydanticCustomError("notice_outdated", "notice_outdated")
        return value


def _deployment(info: ValidationInfo) -> Deployment:
    context = info.context or {}
    deployment = context.get("deployment")
    if not isinstance(deployment, Deployment):
        raise RuntimeError("ConsultationCreate needs context={'deployment': Deployment}")
    return deployment


def _offered(value: str, active: Mapping[str, object], info: ValidationInfo) -> bool:
    """Whether `value` is an active category or support type. With `taxonomy_in_store` in
    the context, the caller does not hold the stored taxonomy and its write checks the ids
    against it (core/choices.py): here only their shape counts."""
    if (info.context or {}).get("taxonomy_in_store"):
        return choices.well_formed(value)
    return value in active


# pydantic's error types → our message codes (custom errors carry our codes already).
_PYDANTIC_CODES = {
    "missing": "missing",
    "too_short": "missing",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "literal_error": "invalid_choice",
    "extra_forbidden": "unknown_field",
}


def parse_consultation(
    data: Any, deployment: Deployment, *, taxonomy_in_store: bool = False
) -> ConsultationCreate:
    """Validate a decoded body; raises InvalidSubmission naming every field at fault.

    `taxonomy_in_store`: `deployment` does not carry the stored taxonomy, and the write
    that follows checks the chosen category and support types against it."""
    context = {"deployment": deployment, "taxonomy_in_store": taxonomy_in_store}
    try:
        return ConsultationCreate.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidSubmission(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    # include_input=False: the submitted value is never echoed or logged.
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(err["loc"])
        field = str(loc[0])[:64] if loc else "body"
        kind = err["type"]
        code = _PYDANTIC_CODES.get(kind, kind)
        params: dict[str, object] = {}
        if code == "too_long":
            ctx = err.get("ctx") or {}
            params["max"] = ctx.get("max", ctx.get("max_length", ""))
        elif code not in MESSAGES:
            code = "invalid_type"
        if (field, code) in seen:
            continue
        seen.add((field, code))
        errors.append(field_error(field, code, loc=loc, **params))
    return errors


class ConsultationReceipt(BaseModel):
    """What a successful submission returns."""

    receipt_number: str
    status: str
    status_label: str
    message: str
    message_en: str

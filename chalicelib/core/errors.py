"""Domain exceptions; http/errors.py maps each to one HTTP answer."""

from __future__ import annotations

from dataclasses import dataclass


class DeskError(Exception):
    """Base of every error the desk raises on purpose."""


class ConfigError(DeskError):
    """A setting or the deployment file is missing or malformed (names the setting, never a value)."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one submitted field, fit to show next to that field."""

    field: str
    code: str
    message: str
    message_en: str
    loc: tuple[str | int, ...] = ()
    # What the message was filled with (e.g. a length limit), to say it in another language.
    params: tuple[tuple[str, object], ...] = ()


class InvalidSubmission(DeskError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} field error(s)")
        self.errors = errors


class MalformedBody(DeskError):
    """The body is not a JSON object (or not valid JSON at all)."""


class BodyTooLarge(DeskError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


class OriginNotAllowed(DeskError):
    pass


class RateLimited(DeskError):
    pass


class IdempotencyKeyReused(DeskError):
    """The same Idempotency-Key came with a different request."""


class ReceiptNumberTaken(DeskError):
    """The generated receipt number exists already (a new one must be drawn)."""


@dataclass
class DuplicateSubmission(DeskError):
    """The same submission was stored before; carries the first receipt number and the
    status it was stored with (received, or suspected_spam for a held one)."""

    receipt_number: str
    status: str = "received"


class FormTokenUsed(DeskError):
    """The form's render token already produced a stored case, and this is a different one.

    Nothing was written: the person confirms once more with a fresh token, so one
    rendered form cannot post case after case, while a second, different
    consultation sent from the same page is still stored after that one press.
    """


class StoreBusy(DeskError):
    """DynamoDB throttled or conflicted after retries; nothing was written."""


class SendError(DeskError):
    """Base of mail sending failures."""


class TransientSendError(SendError):
    """Throttling or a service fault: safe to send again later."""


class PermanentSendError(SendError):
    """SES refused the message; sending again will not help."""


class UncertainSendError(SendError):
    """The request may or may not have reached SES; sending again could duplicate."""


class VersionConflict(DeskError):
    """Someone changed the case since it was read (optimistic locking); nothing was written."""


@dataclass
class LinkAlreadyUsed(DeskError):
    """A single-use link was used before; carries what that use did."""

    previous: dict[str, object]


class CaseNotFound(DeskError):
    pass


class AlreadyProcessed(DeskError):
    """This inbound message acted before (SES or Lambda delivered it again)."""


class SessionInputInvalid(DeskError):
    """A session record with a missing or malformed date, format or report."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DeskError):
    """An admin target (expert, staff member, token, case) does not exist."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class AlreadyExists(DeskError):
    """Creating something whose id is taken."""


class RoleForbidden(DeskError):
    """A valid admin token whose role may not do this."""


class InvalidAdminInput(DeskError):
    """An admin request whose body or query fails validation (errors listed per field)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} field error(s)")
        self.errors = errors


class CaseNotOpen(DeskError):
    """The requester's page acted on a case that is no longer open (closed, withdrawn, erased
    meanwhile): nothing was written."""


class ChoicesChanged(DeskError):
    """The intake write's check on the stored taxonomy failed: a chosen category or
    support type is not active there (or the taxonomy moved on). Nothing was written."""

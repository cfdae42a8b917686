"""The HTML form's fields: decoding a urlencoded post into the JSON contract's shape (pure)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from chalicelib.core.consultation import ConsultationCreate

# Fields the form adds around the contract: the signed render token, the
# honeypot, the button pressed, the page language and whether it is framed.
TOKEN = "form_token"
HONEYPOT = "website"
CONTROL_FIELDS = frozenset({TOKEN, HONEYPOT, "action", "lang", "embed"})
LIST_FIELDS = frozenset({"support_types"})
BOOL_FIELDS = frozenset({"privacy_consent"})
TRUE_VALUES = frozenset({"true", "on", "1", "yes"})

# The order fields appear in on the page and in the error summary.
FIELD_ORDER = tuple(ConsultationCreate.model_fields)


def decode_form(body: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """(contract fields, control fields) from an application/x-www-form-urlencoded body.

    Unknown names stay in the contract part, where validation names them.
    Raises UnicodeDecodeError for a body that is not UTF-8, and ValueError for
    a single-value field sent more than once (no page of the form does that;
    a crafted post could hide a filled honeypot behind an empty repeat).
    """
    parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    fields: dict[str, Any] = {}
    control: dict[str, str] = {}
    for name, values in parsed.items():
        if len(values) > 1 and name not in LIST_FIELDS:
            raise ValueError(f"repeated field {name!r}")
        if name in CONTROL_FIELDS:
            control[name] = values[-1]
        elif name in LIST_FIELDS:
            fields[name] = [v for v in values if v]
        elif name in BOOL_FIELDS:
            fields[name] = values[-1].strip().lower() in TRUE_VALUES
        else:
            fields[name] = values[-1]
    fields.setdefault("support_types", [])
    fields.setdefault("privacy_consent", False)
    return fields, control

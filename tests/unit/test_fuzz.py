"""Property-based fuzzing of every parser that reads outside input (pure; deterministic).

One fixed hypothesis profile: derandomized (the same examples on every run,
so CI is deterministic), no example database, a bounded number of examples
per test and a per-example deadline that only a pathological slowdown
would reach (each example takes milliseconds). FUZZ_SCALE=10 runs ten times
the examples, with a random seed per run when FUZZ_RANDOM=1, for a deeper
search by hand.

Existing neighbours: tests/unit/test_text.py (normaliser properties),
test_formtoken.py, test_commands.py and test_inbound_mail.py (never-raises
fuzzing without a deadline). This file adds what they do not check:
equivalences the normalisers promise, the intake model as a whole, token
mutation, reply addresses, and time bounds on the MIME parser.
"""

from __future__ import annotations

import contextlib
import json
import os
import string
import unicodedata
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.core import actiontoken, replyaddress, text
from chalicelib.core.consultation import ConsultationCreate, parse_consultation
from chalicelib.core.deployment import Deployment
from chalicelib.core.errors import InvalidSubmission
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE
from chalicelib.intake import formtoken
from chalicelib.mailin.commands import parse_reply
from chalicelib.mailin.parse import MalformedMail, parse_inbound
from chalicelib.runtime import load_deployment
from tests.conftest import valid_payload

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(examples: int, deadline_ms: int = 2000) -> Any:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        database=None,
        deadline=timedelta(milliseconds=deadline_ms),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )


# Characters people and robots put into Japanese forms and mail, beside plain text.
TRICKY = (
    "０１２３４５６７８９ＡＺａｚ＠．－＋（）　"  # full-width
    "ｱｶﾞｻﾞﾊﾟｰｯｬﾞﾟ"  # half-width kana and voicing marks
    "ー‐‑‒–—―−﹘﹣－ｰ"  # dashes
    "\u0301\u3099\u309a"  # combining marks
    "\u202e\u2066\u200f\u061c"  # bidi controls
    "\x00\x07\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff\u200b"  # controls, separators, BOM, ZWSP
    "\u200d\u00ad\U0001f3f4\U000e0067\U000e007f"  # joiner, soft hyphen, flag and tag characters
    "\ue000\uf8ff"  # private use (外字)
    "①㍻ﬀ㌔™ⅷ"  # compatibility characters NFKC rewrites
    "\r\n\t "
)
tricky_text = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8")), max_size=60
)
# Lone surrogates: JSON can carry them, UTF-8 cannot.
any_text = st.one_of(tricky_text, st.text(alphabet=st.characters(), max_size=30))


@cache
def deployment() -> Deployment:
    return load_deployment(DEFAULT_DEPLOYMENT_FILE)


# --- normalisers ---------------------------------------------------------------------------

FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"}


def full_width(value: str) -> str:
    return "".join(FULL_WIDTH.get(ch, ch) for ch in value)


@fuzz(300)
@given(any_text)
def test_normalisers_return_clean_stable_text_or_refuse_with_a_code(raw: str) -> None:
    for normalise, allowed in (
        (lambda v: text.normalize_short(v, max_length=50), ""),
        (lambda v: text.normalize_long(v, max_length=200), "\n\t"),
    ):
        try:
            out = normalise(raw)
        except text.TextError as exc:
            assert exc.code in ("forbidden_character", "invisible_character", "too_long")
            continue
        assert all(ch in allowed or unicodedata.category(ch) not in ("Cc", "Cs") for ch in out), (
            repr(out)
        )
        if not allowed:  # a one-line value holds nothing invisible
            assert not {unicodedata.category(ch) for ch in out} & {"Cf", "Zl", "Zp"}, repr(out)
        assert "\u2028" not in out and "\u2029" not in out
        assert not set(out) & text.BIDI_CONTROLS
        assert out == out.strip()
        assert normalise(out) == out  # idempotent: a stored value normalises to itself


@fuzz(200)
@given(st.text(alphabet=string.printable.strip("\r\n\t\x0b\x0c"), max_size=40))
def test_full_width_input_normalises_like_the_ascii_it_stands_for(ascii_text: str) -> None:
    typed = full_width(ascii_text)
    assert text.normalize_short(typed, max_length=100) == text.normalize_short(
        ascii_text, max_length=100
    )


PHONE_SEPARATORS = sorted(text.PHONE_SEPARATORS)


@fuzz(200)
@given(
    st.integers(min_value=9, max_value=10).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    ),
    st.lists(st.sampled_from(PHONE_SEPARATORS), max_size=4),
    st.booleans(),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_a_phone_number_with_any_dashes_or_full_width_digits_is_its_digits(
    digits: str,
    separators: list[str],
    wide: bool,
    international: bool,
    rnd: Any,
) -> None:
    number = "0" + digits
    typed = list(number[1:] if international else number)
    for separator in separators:
        typed.insert(rnd.randint(1, len(typed) - 1), separator)
    raw = ("+81" if international else "") + "".join(typed)
    if wide:
        raw = full_width(raw)
    assert text.normalize_phone(raw) == number


# --- the intake contract as a whole -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = list(ConsultationCreate.model_fields)
MARKER = "ZQXJ-ECHO-CHECK"


@st.composite
def submissions(draw: Any) -> dict[str, Any]:
    """A valid submission with some fields replaced, dropped or added."""
    data = valid_payload()
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            data.pop(name, None)
        elif choice == 1:
            data[name] = draw(json_values)
        elif choice == 2:
            data[name] = draw(tricky_text)
        else:
            data[name] = MARKER + draw(tricky_text)  # must never be echoed
    for extra in draw(st.lists(st.text(max_size=10), max_size=2)):
        data[extra] = draw(json_values)
    return data


@fuzz(300)
@given(st.one_of(submissions(), json_values))
def test_parse_consultation_accepts_or_names_fields_and_never_raises_anything_else(
    data: Any,
) -> None:
    try:
        consultation = parse_consultation(data, deployment())
    except InvalidSubmission as exc:
        assert exc.errors
        for error in exc.errors:
            assert isinstance(error.field, str) and len(error.field) <= 64
            assert error.message and error.message_en
            assert MARKER not in error.message + error.message_en
        return
    # What was accepted is normalised already: stored and parsed again, it is unchanged.
    again = parse_consultation(consultation.model_dump(), deployment())
    assert again == consultation


# --- tokens in links and forms ------------------------------------------------------------

KEYS = {"k2": b"current-link-key-0123456789", "k1": b"previous-link-key-0123456789"}
NOW = 1_800_000_000
MUTATION_CHARS = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + "-_.=+/ "),
    st.characters(codec="utf-8"),
)


@st.composite
def mutations(draw: Any, token: str) -> str:
    """`token` with one to three characters replaced, deleted, inserted or swapped."""
    chars = list(token)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
        at = draw(st.integers(0, max(len(chars) - 1, 0)))
        if kind == "replace" and chars:
            chars[at] = draw(MUTATION_CHARS)
        elif kind == "delete" and chars:
            del chars[at]
        elif kind == "insert":
            chars.insert(at, draw(MUTATION_CHARS))
        elif kind == "swap" and at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
    mutated = "".join(chars)
    assume(mutated != token)
    return mutated


claims = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(["case:take", "case:start_hearing", "expert:accept"]),
        "receipt_number": st.from_regex(r"DX-\d{6}-\d{6}", fullmatch=True),
        "recipient": st.text(alphabet="0123456789abcdef", min_size=20, max_size=20),
        "expires_at": st.integers(NOW, NOW + 30 * 86_400),
        "key_id": st.sampled_from(sorted(KEYS)),
    }
)


@fuzz(400)
@given(claims.flatmap(lambda c: st.tuples(st.just(c), mutations(sign_link(c)))))
def test_any_mutation_of_a_signed_link_is_refused(pair: tuple[dict[str, Any], str]) -> None:
    _, mutated = pair
    with pytest.raises(actiontoken.TokenRefused):
        actiontoken.verify(mutated, KEYS, now=NOW)


def sign_link(claim: dict[str, Any]) -> str:
    values = dict(claim)
    key_id = values.pop("key_id")
    return actiontoken.sign(KEYS, key_id, **values)


@fuzz(100)
@given(claims, st.sampled_from(["case:close", "expert:decline"]), st.integers(1, 10**6))
def test_a_signed_link_holds_only_for_its_purpose_and_time(
    claim: dict[str, Any], other_purpose: str, late: int
) -> None:
    token = sign_link(claim)
    verified = actiontoken.verify(token, KEYS, now=NOW, purpose=claim["purpose"])
    assert (verified.receipt_number, verified.recipient, verified.purpose) == (
        claim["receipt_number"],
        claim["recipient"],
        claim["purpose"],
    )
    with pytest.raises(actiontoken.TokenRefused) as wrong:
        actiontoken.verify(token, KEYS, now=NOW, purpose=other_purpose)
    assert wrong.value.problem is actiontoken.TokenProblem.WRONG_PURPOSE
    with pytest.raises(actiontoken.TokenRefused) as expired:
        actiontoken.verify(token, KEYS, now=claim["expires_at"] + late)
    assert expired.value.problem is actiontoken.TokenProblem.EXPIRED
    with pytest.raises(actiontoken.TokenRefused):
        actiontoken.verify(token, {"k3": b"an-unrelated-key-0123456789"}, now=NOW)


link_shaped = st.builds(
    lambda parts: ".".join(parts),
    st.lists(st.one_of(st.sampled_from(["a1", "k1", "k2", "v1", ""]), any_text), max_size=6),
)


@fuzz(300)
@given(st.one_of(any_text, link_shaped))
def test_random_strings_are_refused_as_links_with_the_documented_error(token: str) -> None:
    with pytest.raises(actiontoken.TokenRefused):
        actiontoken.verify(token, KEYS, now=NOW)


link_payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({name: json_values for name in "pcreu"}),
    st.fixed_dictionaries(
        {"p": st.just("case:take"), "c": st.just("DX-261126-482175"), "r": st.just("r" * 20)},
        optional={
            "e": st.one_of(
                json_values,
                st.sampled_from([float("inf"), float("-inf"), 1e300, 10**30, -1, True, "1"]),
            ),
            "u": json_values,
        },
    ),
)


@fuzz(200)
@given(link_payloads)
def test_a_validly_signed_but_malformed_link_payload_is_refused_not_crashed(payload: Any) -> None:
    """Defence in depth: a payload that passes the MAC is still only trusted in shape."""
    body = actiontoken._b64(json.dumps(payload).encode("utf-8"))
    signed = f"a1.k2.{body}"
    token = f"{signed}.{actiontoken._mac(KEYS['k2'], signed)}"
    with contextlib.suppress(actiontoken.TokenRefused):
        actiontoken.verify(token, KEYS, now=NOW)


FORM_KEYS = {"f2": b"current-form-key-0123456789", "f1": b"previous-form-key-0123456789"}


def check_form(token: str | None) -> formtoken.Verdict:
    return formtoken.verify(token, FORM_KEYS, now=NOW, min_seconds=3, max_seconds=86_400).verdict


@fuzz(300)
@given(
    st.sampled_from(sorted(FORM_KEYS)).flatmap(
        lambda key_id: mutations(formtoken.sign(FORM_KEYS, key_id, NOW - 60))
    )
)
def test_any_mutation_of_a_form_token_is_invalid(mutated: str) -> None:
    assert check_form(mutated) in (formtoken.Verdict.INVALID, formtoken.Verdict.MISSING)


@fuzz(300)
@given(st.one_of(any_text, link_shaped))
def test_random_strings_are_invalid_form_tokens(token: str) -> None:
    assert check_form(token) in (formtoken.Verdict.INVALID, formtoken.Verdict.MISSING)


REPLY_DOMAIN = "reply.dx-desk.example.jp"


@fuzz(300)
@given(
    st.from_regex(r"DX-\d{6}-\d{6}", fullmatch=True).flatmap(
        lambda receipt: st.tuples(
            st.just(receipt),
            mutations(replyaddress.reply_address(KEYS, "k2", receipt, REPLY_DOMAIN)),
        )
    )
)
def test_a_mutated_reply_address_names_no_case_or_the_same_one(pair: tuple[str, str]) -> None:
    receipt, mutated = pair
    target = replyaddress.read_reply_address(mutated, KEYS, REPLY_DOMAIN)
    # Letter case, spaces around it and a +tag are allowed to change; nothing else may.
    assert target is None or target.receipt_number == receipt


# --- inbound mail ---------------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
FIXTURE_NAMES = sorted(path.name for path in FIXTURES.glob("*.eml"))


def parses_within_contract(raw: bytes) -> None:
    try:
        mail = parse_inbound(raw)
    except MalformedMail:
        return
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert mail.sender is None or ("@" in mail.sender and mail.sender == mail.sender.lower())
    assert all(address == address.lower() for address in mail.recipients)
    assert mail.automatic is None or isinstance(mail.automatic, str)


@fuzz(200, deadline_ms=2000)
@given(st.binary(max_size=8192))
def test_arbitrary_bytes_are_read_or_refused_quickly(raw: bytes) -> None:
    parses_within_contract(raw)


HOSTILE_PIECES = [
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Subject: =?utf-8?b?" + b"44GC" * 50 + b"?=\r\n",
    b"Subject: =?iso-2022-jp?q?=1B$B$=22=1B(B?= ",
    b"To: " + b"a@example.jp, " * 40 + b"\r\n",
    b'From: "' + b'\\"' * 100 + b'" <a@example.jp>\r\n',
    b"X-Long: " + b"x" * 2000 + b"\r\n",
    b" folded" * 50 + b"\r\n",
    b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b"////" * 200 + b"\r\n",
    b"<blockquote>" * 50,
    b"<div>" * 100 + b"</div>" * 3,
    b"> " * 100 + b"\r\n",
    b"=\r\n" * 100,
    b"\x1b$B" * 100,
    b"\r" * 500,
]


@fuzz(150, deadline_ms=3000)
@given(
    st.lists(
        st.tuples(st.sampled_from(HOSTILE_PIECES), st.integers(1, 40)),
        min_size=1,
        max_size=12,
    )
)
def test_repetitive_hostile_structures_are_read_or_refused_quickly(
    pieces: list[tuple[bytes, int]],
) -> None:
    raw = b"From: staff-a@dx-desk.example.jp\r\nSubject: x\r\n" + b"".join(
        piece * times for piece, times in pieces
    )
    parses_within_contract(raw)


HEADER_NAMES = [
    b"From",
    b"To",
    b"Cc",
    b"Subject",
    b"Message-ID",
    b"In-Reply-To",
    b"References",
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"Auto-Submitted",
    b"Return-Path",
    b"Precedence",
    b"List-Id",
]
CHARSETS = [
    b"utf-8",
    b"iso-2022-jp",
    b"shift_jis",
    b"cp932",
    b"euc-jp",
    b"utf-7",
    b"utf-16",
    b"rot13",
    b"base64",
    b"hex",
    b"zlib",
    b"idna",
    b"punycode",
    b"unicode_escape",
    b"x-no-such",
    b"",
]


@fuzz(200, deadline_ms=2000)
@given(
    st.sampled_from(FIXTURE_NAMES),
    st.lists(
        st.tuples(
            st.sampled_from(["header", "charset", "duplicate", "body"]),
            st.sampled_from(HEADER_NAMES),
            st.sampled_from(CHARSETS),
            st.binary(max_size=64),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_fixture_mails_with_mutated_headers_and_charsets_are_read_or_refused(
    name: str, changes: list[tuple[str, bytes, bytes, bytes]]
) -> None:
    raw = (FIXTURES / name).read_bytes()
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = raw.partition(b"\n\n")
    lines = head.splitlines()
    for kind, header, charset, junk in changes:
        if kind == "header":
            lines.append(header + b": " + junk.replace(b"\n", b" "))
        elif kind == "charset":
            lines = [line.replace(b"charset=", b"charset=" + charset + b";x=") for line in lines]
            body = body.replace(b"charset=", b"charset=" + charset + b";x=")
        elif kind == "duplicate" and lines:
            lines += lines[: 1 + len(junk) % len(lines)]
        else:
            body = body[: len(body) // 2] + junk + body[len(body) // 2 :]
    parses_within_contract(b"\r\n".join(lines) + (separator or b"\r\n\r\n") + body)


# --- commands in staff replies --------------------------------------------------------------

CATEGORIES = {key: (label.ja, label.en) for key, label in deployment().categories.items()}
PLAIN_COMMAND_LINES = [
    "take",
    "hearing",
    "matching",
    "withdraw",
    "spam",
    "status: hearing",
    "category: data",
    "support: training",
    "担当",
    "ヒアリング開始",
    "分野: データ利活用",
]


@fuzz(300)
@given(st.text(alphabet=st.characters(exclude_characters="\r"), max_size=300))
def test_line_endings_do_not_change_what_a_reply_means(reply: str) -> None:
    unix = parse_reply(reply, categories=CATEGORIES)
    assert parse_reply(reply.replace("\n", "\r\n"), categories=CATEGORIES) == unix


@fuzz(200)
@given(
    st.lists(st.sampled_from(PLAIN_COMMAND_LINES), min_size=1, max_size=4),
    st.text(max_size=80),
    st.integers(0, 3),
)
def test_commands_typed_full_width_or_after_blank_lines_mean_the_same(
    lines: list[str], rest: str, blank: int
) -> None:
    reply = "\n".join(lines) + "\n\n" + rest
    parsed = parse_reply(reply, categories=CATEGORIES)
    wide = parse_reply(full_width("\n".join(lines)) + "\n\n" + rest, categories=CATEGORIES)
    assert [(c.kind, c.action, c.value, c.line) for c in wide.commands] == [
        (c.kind, c.action, c.value, c.line) for c in parsed.commands
    ]
    shifted = parse_reply("\n" * blank + reply, categories=CATEGORIES)
    assert [(c.kind, c.action, c.value, c.line - blank) for c in shifted.commands] == [
        (c.kind, c.action, c.value, c.line) for c in parsed.commands
    ]

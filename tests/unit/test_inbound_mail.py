"""Reading raw inbound mail: the new text of each client's reply, machine mail, hostile MIME."""

from __future__ import annotations

import ast
import base64
import os
import time
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.mailin import parse as inbound
from chalicelib.mailin.parse import MalformedMail, html_to_text, parse_inbound, strip_quoted_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"

# What each client's reply says above (or below) the quote: commands, then the note.
NEW_TEXT = {
    "outlook_ja.eml": "ヒアリング開始\n分野：データ利活用\n\n先方と電話で話しました。①来週訪問、②資料送付の予定です。",
    "outlook_en.eml": (
        "Take\nCategory: Data and open data\nSupport: training, information\n\n"
        "Called the requester: they would like a seminar for their staff in January.\n\n"
        "Desk staff B\nDX Desk"
    ),
    "gmail_ja.eml": (
        "担当\nヒアリング開始\n分野: データ利活用\n支援：人材育成、情報提供\n\n"
        "来週、先方を訪問してヒアリングします。"
    ),
    "gmail_en.eml": (
        "close: Seminar held on 10 December; the requester is satisfied.\n\n"
        "Thanks for arranging the trainer."
    ),
    "thunderbird_ja.eml": "＃担当\n＃支援：研修\n\n先方は職員向けの研修を希望しています。日程は追って連絡します。",
    "thunderbird_en.eml": (
        "withdraw\nThe requester called to cancel; they found another provider in their own town."
    ),
    "iphone_ja.eml": "他機関紹介：よろず支援拠点（県内）\nメモ：補助金の相談が中心のため",
    "html_only.eml": (
        "状態：調整中\n分野：働き方・コミュニケーション\n\n"
        "候補のアドバイザー2名（A社 & B大学）に打診します。\n結果は追って連絡します。"
    ),
}
SENDERS = {
    "outlook_ja.eml": "staff-a@example.jp",
    "outlook_en.eml": "staff-b@example.jp",
    "gmail_ja.eml": "staff-c@example.com",
    "gmail_en.eml": "staff-d@example.com",
    "thunderbird_ja.eml": "staff-e@example.jp",
    "thunderbird_en.eml": "staff-f@example.jp",
    "iphone_ja.eml": "staff-g@example.jp",
    "html_only.eml": "staff-h@example.jp",
}
# Text that only occurs in the quoted original, the reply header or the signature.
QUOTED = (
    "新しい相談が届きました",
    "受付番号",
    "紙の申請書",
    "このメールに返信",
    "consultation was received",
    "Receipt number",
    "paper application",
    "差出人",
    "送信日時",
    "From:",
    "Sent:",
    "wrote",
    "書きました",
    "のメール",
    "case-prod-",
    "@",
    "━",
    "県デジタル推進局",
    "TEL",
    "iPhone",
    "Desk staff F",
    "事務局スタッフ",
    "-- ",
)
AUTOMATIC = {
    "auto_reply_ja.eml": "auto-submitted",
    "bounce.eml": "bounce",
    "list.eml": "list",
}
MALFORMED = ("malformed_boundary.eml", "malformed_charset.eml")


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mail(headers: str, body: str = "本文です。\r\n", *, content_type: str = "") -> bytes:
    """A small raw message: the given header lines (\\n-separated) and a UTF-8 body."""
    lines = [line for line in headers.strip("\n").split("\n") if line]
    if not any(line.lower().startswith("from:") for line in lines):
        lines.insert(0, "From: staff-a@example.jp")
    lines.append("MIME-Version: 1.0")
    lines.append(content_type or "Content-Type: text/plain; charset=utf-8")
    lines.append("Content-Transfer-Encoding: 8bit")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode()


def html_part(raw: bytes) -> Message:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part
    raise AssertionError("no HTML part")


# --- each client's reply (inbound.py, quoting.py) -------------------------------------


@pytest.mark.parametrize("name", sorted(NEW_TEXT))
def test_the_text_is_exactly_what_the_person_wrote(name: str) -> None:
    parsed = parse_inbound(read(name))
    assert parsed.text == NEW_TEXT[name]
    assert parsed.automatic is None
    assert parsed.sender == SENDERS[name]


@pytest.mark.parametrize("name", sorted(NEW_TEXT))
def test_nothing_of_the_quoted_part_header_or_signature_remains(name: str) -> None:
    text = parse_inbound(read(name)).text
    assert [phrase for phrase in QUOTED if phrase in text] == []


@pytest.mark.parametrize(
    "name", ["outlook_ja.eml", "outlook_en.eml", "gmail_ja.eml", "gmail_en.eml"]
)
def test_the_html_alternative_gives_the_same_text_as_the_plain_part(name: str) -> None:
    html_only = b"From: staff@example.jp\r\n" + html_part(read(name)).as_bytes()
    assert parse_inbound(html_only).text == NEW_TEXT[name]


@pytest.mark.parametrize("name", sorted(NEW_TEXT))
def test_the_new_text_starts_with_a_command_block(name: str) -> None:
    first = NEW_TEXT[name].split("\n", 1)[0]
    assert first  # every client fixture opens with a command line
    assert parse_inbound(read(name)).text.startswith(first)


def test_headers_are_read() -> None:
    parsed = parse_inbound(read("outlook_ja.eml"))
    assert parsed.message_id == "000001db3f2a$1b2c3d40$51566bc0$@example.jp"
    assert parsed.subject == "RE: [R2026-0001] 新しい相談が届きました"
    assert parsed.recipients == ["case-prod-r2026-0001-0123456789abcdef@reply.desk.example.jp"]
    assert parsed.in_reply_to == ["notify.r2026-0001.1@desk.example.jp"]


def test_cc_recipients_and_references_are_collected_once() -> None:
    parsed = parse_inbound(read("outlook_en.eml"))
    assert parsed.recipients == [
        "case-prod-r2026-0002-1a2b3c4d5e6f7a8b@reply.desk.example.jp",
        "staff-a@example.jp",
    ]
    html_only = parse_inbound(read("html_only.eml"))
    assert html_only.in_reply_to == [
        "notify.r2026-0008.1@desk.example.jp",
        "notify.r2026-0001.1@desk.example.jp",
    ]


# --- machine mail (machine_mail.py) ---------------------------------------------------


@pytest.mark.parametrize(("name", "reason"), sorted(AUTOMATIC.items()))
def test_machine_mail_fixtures_are_recognised(name: str, reason: str) -> None:
    assert parse_inbound(read(name)).automatic == reason


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: auto-replied; owner-email=staff@example.jp", "auto-submitted"),
        ("Auto-Submitted: auto-notified", "auto-submitted"),
        ("Return-Path: <>", "bounce"),
        ("Return-Path: < >", "bounce"),
        ("From: MAILER-DAEMON@mx.example.net", "bounce"),
        ("From: Postmaster <postmaster@example.net>", "bounce"),
        ("X-Failed-Recipients: nobody@example.net", "bounce"),
        ("Precedence: bulk", "bulk"),
        ("Precedence: junk", "bulk"),
        ("Precedence: list", "list"),
        ("Precedence: auto_reply", "auto-reply"),
        ("List-Id: <news.lists.example.org>", "list"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "list"),
        ("X-Autoreply: yes", "auto-reply"),
        ("X-Autorespond: Vacation", "auto-reply"),
        ("X-Auto-Response-Suppress: All", "auto-reply"),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply", "auto-reply"),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", "auto-reply"),
        ("X-MS-Exchange-Inbox-Rules-Loop: staff-a@example.jp", "auto-forward"),
        (
            "Subject: =?UTF-8?B?6Ieq5YuV5b+c562UOiBSRTog55u46KuH?=",
            "out-of-office",
        ),  # 自動応答: RE: 相談
        ("Subject: 【自動返信】ご連絡ありがとうございます", "out-of-office"),
        ("Subject: 不在通知", "out-of-office"),
        ("Subject: [不在] 12/1まで", "out-of-office"),
        ("Subject: Out of Office: case R2026-0001", "out-of-office"),
        ("Subject: Automatic reply: [R2026-0001] New consultation", "out-of-office"),
        ("Subject: Auto-Reply: thanks", "out-of-office"),
    ],
)
def test_machine_mail_headers_are_recognised(headers: str, reason: str) -> None:
    assert parse_inbound(mail(headers)).automatic == reason


def test_a_read_receipt_is_machine_mail() -> None:
    raw = mail(
        "Subject: 開封済み: 相談",
        "--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n",
        content_type='Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
    )
    assert parse_inbound(raw).automatic == "read-receipt"


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: no",
        "Subject: Re: 不在時の対応について",
        "Subject: RE: [R2026-0001] 新しい相談が届きました",
        "Subject: Re: Out of office hours support",
        "Return-Path: <staff-a@example.jp>",
        "Precedence: normal",
    ],
)
def test_a_person_s_reply_is_not_machine_mail(headers: str) -> None:
    assert parse_inbound(mail(headers)).automatic is None


def test_machine_mail_with_a_broken_body_is_still_dropped_not_refused() -> None:
    raw = mail(
        "Auto-Submitted: auto-replied",
        "x\r\n",
        content_type='Content-Type: multipart/mixed; boundary="declared"',
    )
    parsed = parse_inbound(raw)
    assert parsed.automatic == "auto-submitted"
    assert parsed.text == ""


# --- malformed and hostile input (mime.py) --------------------------------------------


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_fixtures_raise_malformed_mail(name: str) -> None:
    with pytest.raises(MalformedMail):
        parse_inbound(read(name))


def test_a_12_mb_message_is_refused_before_parsing() -> None:
    line = "ダミー本文です。これは12MBを超えるメールです。\r\n".encode()
    raw = mail("Subject: big", "") + line * (12 * 1024 * 1024 // len(line) + 1)
    assert len(raw) > 12 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(MalformedMail, match="larger than"):
        parse_inbound(raw)
    assert time.monotonic() - started < 1


def test_the_size_limit_can_be_set() -> None:
    raw = read("gmail_en.eml")
    with pytest.raises(MalformedMail):
        parse_inbound(raw, max_bytes=len(raw) - 1)
    assert parse_inbound(raw, max_bytes=len(raw)).text == NEW_TEXT["gmail_en.eml"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\nno headers at all",
        b"just some text without a colon",
    ],
)
def test_a_message_without_headers_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMail):
        parse_inbound(raw)


def test_a_string_instead_of_bytes_is_malformed() -> None:
    with pytest.raises(MalformedMail):
        parse_inbound("From: a@example.jp\r\n\r\nx")  # type: ignore[arg-type]


def timed(raw: bytes) -> float:
    started = time.monotonic()
    with pytest.raises(MalformedMail):
        parse_inbound(raw)
    return time.monotonic() - started


def test_a_huge_content_type_is_refused_quickly() -> None:
    # The stdlib's header parser is quadratic: this one would take minutes.
    raw = mail("", content_type="Content-Type: text/plain; " + 'a=";' * 50_000)
    assert timed(raw) < 2


def test_many_parameters_folded_over_lone_cr_line_ends_are_refused_too() -> None:
    raw = b"From: a@example.jp\rContent-Type: text/plain;" + b'\r a=";' * 20_000 + b"\r\rbody"
    assert timed(raw) < 2


def test_a_million_empty_parts_are_refused_quickly() -> None:
    body = "--b\r\n\r\nx\r\n" * 900_000 + "--b--\r\n"
    raw = mail("", body, content_type='Content-Type: multipart/mixed; boundary="b"')
    assert timed(raw) < 3


def test_too_many_parts_are_refused() -> None:
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    raw = mail(
        "", part * 300 + "--b--\r\n", content_type='Content-Type: multipart/mixed; boundary="b"'
    )
    with pytest.raises(MalformedMail, match="parts"):
        parse_inbound(raw)


def test_deeply_nested_multiparts_are_refused() -> None:
    depth = 3000
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    raw = (
        b"From: a@example.jp\r\n"
        + (opening + "Content-Type: text/plain\r\n\r\nx\r\n" + closing).encode()
    )
    assert timed(raw) < 3


def test_moderate_nesting_deeper_than_the_walk_allows_is_refused() -> None:
    depth = 20
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\r\n" for i in reversed(range(depth)))
    raw = (
        b"From: a@example.jp\r\n"
        + (opening + "Content-Type: text/plain\r\n\r\nx\r\n" + closing).encode()
    )
    with pytest.raises(MalformedMail, match="nested"):
        parse_inbound(raw)


def test_a_multipart_without_boundary_is_malformed() -> None:
    with pytest.raises(MalformedMail):
        parse_inbound(mail("", "担当\r\n", content_type="Content-Type: multipart/mixed"))


def test_a_missing_closing_boundary_is_tolerated() -> None:
    body = "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n担当\r\n"
    raw = mail("", body, content_type='Content-Type: multipart/mixed; boundary="b"')
    assert parse_inbound(raw).text == "担当"


def test_a_non_text_codec_as_charset_is_malformed() -> None:
    raw = mail("", "x", content_type='Content-Type: text/plain; charset="base64"')
    with pytest.raises(MalformedMail):
        parse_inbound(raw)


@pytest.mark.parametrize("charset", ["unicode_escape", "undefined", "idna"])
def test_escape_codecs_are_not_used_as_charsets(charset: str) -> None:
    raw = mail("", "担当\\u0041", content_type=f"Content-Type: text/plain; charset={charset}")
    assert parse_inbound(raw).text == "担当\\u0041"  # read as UTF-8, escapes untouched


@pytest.mark.parametrize(
    ("payload", "text"), [(b"5ouF5b2T!!!***", "担当"), (b"5ouF5b2", "担\ufffd")]
)
def test_broken_base64_is_read_as_far_as_it_goes(payload: bytes, text: str) -> None:
    raw = (
        b"From: a@example.jp\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"\r\n"
    )
    assert parse_inbound(raw).text == text


# --- charsets and headers (charsets.py, headers.py) -----------------------------------


@pytest.mark.parametrize(
    ("charset", "text", "codec"),
    [
        (
            "shift_jis",
            "担当\r\n\r\n髙橋さん（㈱）と話しました。",
            "cp932",
        ),  # CP932 under the name Shift_JIS
        ("Shift_JIS", "担当\r\n\r\n高橋さんと話しました。", "shift_jis"),
        ("euc-jp", "担当\r\n\r\n高橋さんと話しました。", "euc_jp"),
        ("ISO-2022-JP", "担当\r\n\r\n高橋さんと話しました。", "iso2022_jp"),
        ("windows-31j", "担当\r\n\r\n①髙橋さん", "cp932"),
    ],
)
def test_japanese_charsets_are_decoded(charset: str, text: str, codec: str) -> None:
    raw = mail("", "", content_type=f"Content-Type: text/plain; charset={charset}")
    assert parse_inbound(raw + text.encode(codec)).text == text.replace("\r\n", "\n")


def test_iso_2022_jp_with_nec_special_characters_is_decoded() -> None:
    body = b'\x1b$B-!-"\x1b(B \x1b$B-j\x1b(B'  # ① ② ㈱ in row 13, as Outlook writes them
    raw = mail("", "", content_type="Content-Type: text/plain; charset=iso-2022-jp") + body
    assert parse_inbound(raw).text == "①② ㈱"


def test_us_ascii_labelled_utf8_is_read_as_utf8() -> None:
    raw = mail("", "担当", content_type="Content-Type: text/plain; charset=us-ascii")
    assert parse_inbound(raw).text == "担当"


def test_raw_utf8_and_shift_jis_headers_are_decoded() -> None:
    raw = "From: 事務局 <staff-a@example.jp>\r\nSubject: 返信です\r\n\r\nx".encode()
    assert parse_inbound(raw).subject == "返信です"
    raw = "From: staff-a@example.jp\r\nSubject: 返信です\r\n\r\nx".encode("cp932")
    assert parse_inbound(raw).subject == "返信です"


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        (
            "=?ISO-2022-JP?B?" + base64.b64encode("参加".encode("iso2022_jp")).decode() + "?=",
            "参加",
        ),
        ("=?UTF-8?Q?Re=3A_=E6=8B=85=E5=BD=93?=", "Re: 担当"),
        ("=?UTF-8?B?5ouF?= =?UTF-8?B?5b2T?=", "担当"),  # adjacent words: the space goes
        ("=?utf-8*ja?B?5ouF5b2T?=", "担当"),  # RFC 2231 language
        ("=?x-unknown?B?gqA=?=", "\ufffd\ufffd"),  # unknown charset: replacement, no error
        ("=?UTF-8?B?not-base64?=", None),
        ("plain =?UTF-8?B?5ouF5b2T?= text", "plain 担当 text"),
    ],
)
def test_encoded_subjects_are_decoded_without_raising(header: str, subject: str | None) -> None:
    parsed = parse_inbound(mail(f"Subject: {header}"))
    if subject is not None:
        assert parsed.subject == subject


def test_iso_2022_jp_split_over_two_encoded_words_is_joined() -> None:
    encoded = "参加".encode("iso2022_jp")  # ESC $ B, two characters, ESC ( B
    first, second = encoded[:5], encoded[5:]  # the second word has no escape of its own
    words = [f"=?ISO-2022-JP?B?{base64.b64encode(part).decode()}?=" for part in (first, second)]
    assert parse_inbound(mail("Subject: " + "\n ".join(words))).subject == "参加"


@pytest.mark.parametrize(
    ("from_header", "sender"),
    [
        ("From: staff-a@example.jp", "staff-a@example.jp"),
        ("From: STAFF-A@Example.JP", "staff-a@example.jp"),
        ('From: "事務局, スタッフA" <staff-a@example.jp>', "staff-a@example.jp"),
        ("From: =?UTF-8?B?5LqL5YuZ5bGA?= <staff-a@example.jp>", "staff-a@example.jp"),
        ("From: staff-a@example.jp (事務局スタッフA)", "staff-a@example.jp"),
        ("From: <@route.example.jp:staff-a@example.jp>", "staff-a@example.jp"),
        # The display name is never the address:
        ('From: "staff-a@example.jp" <outsider@example.com>', "outsider@example.com"),
        (
            "From: =?UTF-8?Q?=3Cstaff-a@example.jp=3E?= <outsider@example.com>",
            "outsider@example.com",
        ),
        # Ambiguous or unreadable: nobody.
        ("From: staff-a@example.jp, outsider@example.com", None),
        ("From: outsider@example.com)<staff-a@example.jp>", None),
        ("From: <staff-a@example.jp> <outsider@example.com>", None),
        ('From: "unterminated <staff-a@example.jp>', None),
        ("From: staff-a@example.jp\nFrom: outsider@example.com", None),
        ("From: undisclosed-recipients:;", None),
        ("From: Staff A", None),
        ("From: <>", None),
        ("From: " + "a" * 20_000 + "@example.jp", None),
    ],
)
def test_the_sender_is_the_one_address_in_from_or_none(
    from_header: str, sender: str | None
) -> None:
    assert parse_inbound(mail(from_header)).sender == sender


def test_unreadable_recipients_are_skipped_not_fatal() -> None:
    parsed = parse_inbound(
        mail("To: undisclosed-recipients:;\nCc: Staff B <staff-b@example.jp>, broken <x")
    )
    assert parsed.recipients == []
    parsed = parse_inbound(mail("To: a@example.jp, Name Only, b@example.jp"))
    assert parsed.recipients == ["a@example.jp", "b@example.jp"]


def test_a_message_id_without_brackets_is_kept() -> None:
    assert parse_inbound(mail("Message-ID: abc123@example.jp")).message_id == "abc123@example.jp"
    assert parse_inbound(mail("Message-ID: not an id")).message_id is None


def test_an_attachment_is_not_the_text() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; "
        'filename="a.txt"\r\n\r\n添付\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n担当\r\n--b--\r\n"
    )
    raw = mail("", body, content_type='Content-Type: multipart/mixed; boundary="b"')
    assert parse_inbound(raw).text == "担当"


def test_a_forwarded_message_inside_is_not_entered() -> None:
    body = (
        "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\n"
        "Content-Type: text/plain\r\n\r\ninner\r\n--b--\r\n"
    )
    raw = mail("", body, content_type='Content-Type: multipart/mixed; boundary="b"')
    assert parse_inbound(raw).text == ""


# --- quoted text, reply headers, signatures (quoting.py) ------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "担当\n\n-----Original Message-----\nFrom: DX Desk\nSent: today\n本文",
        "担当\n\n-----元のメッセージ-----\n差出人: DX相談窓口\n本文",
        "担当\n\n----- Original Message -----\n本文",
        "担当\n\n---------- Forwarded message ---------\n本文",
        "担当\n\n---------- 転送されたメッセージ ---------\n本文",
        "担当\n\n差出人：DX相談窓口 <a@example.jp>\n送信日時：2026年11月26日 10:00\n宛先：事務局\n件名：相談\n\n本文",
        "担当\n\n差出人: DX相談窓口\n日付: 2026年11月26日 10:00\n宛先: 事務局\n件名: 相談\n本文",
        "担当\n\n*From:* DX Desk <a@example.jp>\n*Sent:* Thursday\n*To:* staff\n本文",
        "担当\n\n________________________________\nFrom: DX Desk <a@example.jp>\nSent: Thursday\n本文",
        "担当\n\nOn Thu, Nov 26, 2026 at 10:00 AM DX Desk <a@example.jp> wrote:\n> 本文",
        "担当\n\nOn Thu, 26 Nov 2026 10:00:00 +0900\nDX相談窓口 <a@example.jp> wrote:\n> 本文",
        "担当\n\n2026年11月26日(木) 10:00 DX相談窓口 <a@example.jp>:\n> 本文",
        "担当\n\n2026年11月26日(木) 10:00 DX相談窓口 <\na@example.jp>:\n\n> 本文\n>\n> 本文",
        "担当\n\n2026/11/26 10:00 に DX相談窓口 さんは書きました:\n> 本文",
        "担当\n\n2026/11/26 10:00、DX相談窓口 <a@example.jp>のメール：\n\n> 本文",
        "担当\n\nOn 2026/11/26 10:00, DX Desk wrote:\n本文 quoted without marks",
        "担当\n\n> 本文\n> 本文",
        "担当\n\n＞ 本文",
        "担当\n\n-- \n事務局スタッフA\n本文",
        "担当\n\nSent from my iPhone",
        "担当\n\nOutlook for iOS を入手",
        "担当\n\n====================\n事務局スタッフA\n本文 TEL\n====================",
    ],
)
def test_reply_headers_quotes_and_signatures_are_removed(reply: str) -> None:
    assert strip_quoted_text(reply) == "担当"


def test_a_bottom_posted_answer_is_kept() -> None:
    reply = "On 2026/11/26 10:00, DX Desk wrote:\n> 本文\n> 本文\n\nwithdraw\nnote\n\n-- \nB"
    assert strip_quoted_text(reply) == "withdraw\nnote"


def test_an_inline_answer_keeps_every_new_paragraph() -> None:
    reply = "担当\n\n> 質問1\n\n答え1\n\n> 質問2\n答え2"
    assert strip_quoted_text(reply) == "担当\n\n答え1\n\n答え2"


@pytest.mark.parametrize(
    "note",
    [
        "メモ: The requester wrote:\nthey want a seminar",  # "wrote:" but nothing is quoted
        "From: the requester's office\nwe got a call",  # one header-like line is no header block
        "2026年11月27日(金) 14:00 訪問予定:\n資料を持参",  # a date line ending in ":"
        "結果は以下のとおり\n--------\n1. 研修\n2. 情報提供",  # a rule line inside the note
    ],
)
def test_note_lines_that_only_look_like_headers_are_kept(note: str) -> None:
    assert strip_quoted_text(note) == note


def test_format_flowed_soft_breaks_are_joined() -> None:
    raw = mail(
        "",
        "withdraw\r\nthe requester called \r\nto cancel.\r\n>> quoted \r\n>> more\r\n",
        content_type="Content-Type: text/plain; charset=utf-8; format=flowed",
    )
    assert parse_inbound(raw).text == "withdraw\nthe requester called to cancel."
    raw = mail(
        "",
        "担当\r\n先方は研修を希望しています。 \r\n日程は追って。\r\n",
        content_type="Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
    )
    assert parse_inbound(raw).text == "担当\n先方は研修を希望しています。日程は追って。"


# --- HTML (html_text.py) --------------------------------------------------------------


def test_html_blocks_become_lines_and_quotes_go() -> None:
    markup = (
        "<html><head><title>t</title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><div>担当</div><p>メモ：<b>太字</b>&amp;&lt;記号&gt;</p><ul><li>一</li><li>二</li></ul>"
        "<pre>  整形\n  済み</pre><blockquote type=cite>引用</blockquote>"
        '<div class="moz-cite-prefix">On …, X wrote:</div><table><tr><td>A</td><td>B</td></tr></table>'
        "<!-- comment --><!--[if mso]><p>条件付き</p><![endif]--></body></html>"
    )
    assert html_to_text(markup) == "担当\nメモ：太字&<記号>\n一\n二\n  整形\n  済み\nA\nB"


def test_outlook_reply_header_in_html_ends_the_text() -> None:
    markup = "<div>担当</div><div id=divRplyFwdMsg><b>差出人:</b> X</div><div>original</div>"
    assert html_to_text(markup) == "担当"
    markup = (
        '<p>完了</p><div style="border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        "<p><b>From:</b> X</p></div><p>original</p>"
    )
    assert html_to_text(markup) == "完了"


def test_text_after_a_gmail_quote_is_kept() -> None:
    markup = (
        '<div>担当</div><div class="gmail_quote"><blockquote>引用</blockquote></div><div>続き</div>'
    )
    assert html_to_text(markup) == "担当\n続き"


@pytest.mark.parametrize(
    "markup",
    [
        "<!--" * 200_000,
        "<a b='" * 100_000,
        "<" * 500_000,
        "</" * 300_000,
        "<a" * 300_000,
        "<!" * 300_000,
        "<div>" * 200_000,
        "<b>x</b>" * 200_000,
        "<p class='" + "x" * 500_000,
        "&#" * 300_000,
    ],
)
def test_html_conversion_is_linear_on_hostile_markup(markup: str) -> None:
    started = time.monotonic()
    html_to_text(markup)
    assert time.monotonic() - started < 3


def test_an_html_only_mail_uses_the_html_part() -> None:
    raw = mail(
        "",
        "<div>取下げ</div><blockquote>引用</blockquote>",
        content_type="Content-Type: text/html; charset=utf-8",
    )
    assert parse_inbound(raw).text == "取下げ"


# --- fuzzing -------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def parses_or_refuses(raw: bytes) -> None:
    try:
        parsed = parse_inbound(raw)
    except MalformedMail:
        return
    assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)
    assert parsed.sender is None or "@" in parsed.sender


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_parse_or_raise_malformed_mail(raw: bytes) -> None:
    parses_or_refuses(raw)


MIME_PIECES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b"--b\r\n",
        b"--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: text/plain; charset=iso-2022-jp\r\n",
        b"Content-Type: text/html; charset=x-unknown\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"From: =?utf-8?q?=3C?= <a@example.jp>\r\n",
        b"Subject: =?iso-2022-jp?B?GyRC?=\r\n",
        b"\x1b$B-!\x1b(B",
        b"<div><blockquote>",
        b"=?",
        b"=\r\n",
        b"> quoted\r\n",
        b" folded\r\n",
        "担当\r\n".encode(),
        "担当\r\n".encode("cp932"),
    ]
)


@FUZZ
@given(st.lists(st.one_of(MIME_PIECES, st.binary(max_size=16)), max_size=60))
def test_mime_like_bytes_parse_or_raise_malformed_mail(pieces: list[bytes]) -> None:
    parses_or_refuses(b"From: a@example.jp\r\n" + b"".join(pieces))


ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.eml"))


@FUZZ
@given(
    st.sampled_from(ALL_FIXTURES),
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]),
            st.floats(min_value=0, max_value=1),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_fixtures_parse_or_raise_malformed_mail(
    name: str, mutations: list[tuple[str, float, bytes]]
) -> None:
    data = bytearray(read(name))
    for kind, where, chunk in mutations:
        if not data:
            break
        at = min(int(where * len(data)), len(data) - 1)
        if kind == "flip":
            data[at] ^= chunk[0] or 0x80
        elif kind == "delete":
            del data[at : at + len(chunk)]
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + 64 * len(chunk)]
    parses_or_refuses(bytes(data))


@FUZZ
@given(st.text(max_size=2000))
def test_stripping_and_html_conversion_never_raise(text: str) -> None:
    assert isinstance(strip_quoted_text(text), str)
    assert isinstance(html_to_text(text), str)


def test_the_package_is_pure_and_self_contained() -> None:
    """No I/O, no AWS, no web framework; of the application it imports only its own modules."""
    modules = sorted(Path(inbound.__file__).parent.glob("*.py"))
    assert len(modules) > 1  # the package's modules, not only its __init__
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        tops = {name.split(".")[0] for name in imported}
        assert tops & {"boto3", "botocore", "chalice", "os", "io", "pathlib", "socket"} == set(), (
            path
        )
        assert [
            name
            for name in imported
            if name.startswith("chalicelib") and not name.startswith(inbound.__name__ + ".")
        ] == [], path
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "open" not in calls, path

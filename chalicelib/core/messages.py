"""The catalogue of field labels and error messages, in Japanese, English and やさしい日本語 (pure).

Rules every message follows (a test checks the catalogue):
- it says what to do, in the words of the field's label;
- it never blames ("不正", "無効", "エラーが発生しました" are out);
- the error summary shows the same text as the message beside the field.

やさしい日本語 (plain Japanese, `easy`) follows the guidelines public bodies
use: short sentences, one idea each, no honorific chains, words spaced, and a
reading for every kanji that remains, written `[漢字|かんじ]` (core/text.py
turns it into <ruby> on pages and 漢字（かんじ） in plain text).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.errors import FieldError

LANGUAGES = ("ja", "en", "easy")


@dataclass(frozen=True)
class Text:
    ja: str
    en: str
    easy: str

    def get(self, lang: str) -> str:
        return {"en": self.en, "easy": self.easy}.get(lang, self.ja)


@dataclass(frozen=True)
class FieldLabel(Text):
    choice: bool = False  # chosen from a list rather than typed


FIELD_LABELS: dict[str, FieldLabel] = {
    "requester_type": FieldLabel(
        "相談者区分", "Who is asking", "[相談|そうだん]する [人|ひと]", choice=True
    ),
    "organization": FieldLabel(
        "団体・事業者名", "Organisation", "[会社|かいしゃ]や [団体|だんたい]の [名前|なまえ]"
    ),
    "name": FieldLabel("お名前", "Name", "[名前|なまえ]"),
    "name_kana": FieldLabel("ふりがな", "Name reading (kana)", "[名前|なまえ]の ふりがな"),
    "email": FieldLabel("メールアドレス", "Email address", "メールアドレス"),
    "phone": FieldLabel("電話番号", "Phone number", "[電話|でんわ][番号|ばんごう]"),
    # Not 「市町」 alone: that is also a choice of 相談者区分, and two controls
    # with one name sound the same to a screen reader.
    "municipality": FieldLabel(
        "所在地の市町",
        "Municipality (where you live or work)",
        "[住|す]んでいる [市|し]や [町|まち]",
        choice=True,
    ),
    "support_types": FieldLabel(
        "希望する支援", "Support wanted", "ほしい [手伝|てつだ]い", choice=True
    ),
    "category": FieldLabel("相談分野", "Category", "[相談|そうだん]の [分野|ぶんや]", choice=True),
    "message": FieldLabel("相談内容", "Your request", "[相談|そうだん]したい こと"),
    "preferred_format": FieldLabel(
        "希望する相談方法",
        "Preferred format",
        "[相談|そうだん]の [方法|ほうほう]",
        choice=True,
    ),
    "privacy_consent": FieldLabel(
        "個人情報の取扱いへの同意",
        "Privacy consent",
        "[個人|こじん][情報|じょうほう]の [使|つか]い[方|かた]",
        choice=True,
    ),
    "privacy_notice_version": FieldLabel(
        "個人情報の取扱いの版",
        "Privacy notice version",
        "[個人|こじん][情報|じょうほう]の [使|つか]い[方|かた]の [版|はん]",
    ),
    # The requester's own page and lookup (chalicelib/requester).
    "receipt_number": FieldLabel("受付番号", "Receipt number", "[受付|うけつけ][番号|ばんごう]"),
    "addition": FieldLabel("追記する内容", "Information to add", "[書|か]き[足|た]す こと"),
    "withdraw_reason": FieldLabel("取り下げの理由", "Reason for withdrawing", "やめる わけ"),
}
UNKNOWN_LABEL = FieldLabel("項目", "Field", "[項目|こうもく]")

# code → the message; {label} is the field's label in the same language, {max} a limit.
MESSAGES: dict[str, Text] = {
    "missing": Text(
        "「{label}」を入力してください。",
        "Enter {label}.",
        "「{label}」を [書|か]いて ください。",
    ),
    "missing_choice": Text(
        "「{label}」を選んでください。",
        "Select {label}.",
        "「{label}」を [選|えら]んで ください。",
    ),
    "too_long": Text(
        "「{label}」は{max}文字以内で入力してください。",
        "{label} must be {max} characters or fewer.",
        "「{label}」は {max}[文字|もじ]までです。[短|みじか]くして ください。",
    ),
    "forbidden_character": Text(
        "「{label}」に使えない文字（制御文字など）が入っています。その文字を消して入力してください。",
        "{label} contains characters that cannot be used (such as control characters). Remove them.",
        "「{label}」に [使|つか]えない [文字|もじ]が あります。その [文字|もじ]を [消|け]して ください。",
    ),
    "invisible_character": Text(
        "「{label}」に目に見えない文字（ゼロ幅スペースや改行の記号など）が入っています。貼り付けた場合は、手で入力し直してください。",
        "{label} contains an invisible character (such as a zero-width space or a line separator). If you pasted it, type it again.",
        "「{label}」に [見|み]えない [文字|もじ]が あります。[自分|じぶん]で [書|か]き[直|なお]して ください。",
    ),
    "invalid_type": Text(
        "「{label}」をもう一度入力してください。",
        "Enter {label} again.",
        "「{label}」を もう[一度|いちど] [書|か]いて ください。",
    ),
    "invalid_choice": Text(
        "「{label}」は選択肢の中から選んでください。",
        "Select {label} from the list.",
        "「{label}」は リストの [中|なか]から [選|えら]んで ください。",
    ),
    "invalid_email": Text(
        "「{label}」は dx-taro@example.jp のような形で入力してください。",
        "Enter {label} in the form dx-taro@example.jp.",
        "「{label}」は dx-taro@example.jp のように [書|か]いて ください。",
    ),
    "invalid_phone": Text(
        "「{label}」は市外局番から入力してください。（例：059-000-0000）",
        "Enter {label} with its area code, like 059-000-0000.",
        "「{label}」は 059-000-0000 のように [書|か]いて ください。",
    ),
    "invalid_kana": Text(
        "「{label}」はひらがなかカタカナで入力してください。",
        "Enter {label} in hiragana or katakana.",
        "「{label}」は ひらがな か カタカナで [書|か]いて ください。",
    ),
    "organization_required": Text(
        "「{label}」を入力してください。（相談者区分が「県民・県民グループ」のときは空欄で構いません）",
        "Enter {label} (residents may leave it empty).",
        "「{label}」を [書|か]いて ください。[県民|けんみん]の [人|ひと]は [書|か]かなくても [大丈夫|だいじょうぶ]です。",
    ),
    "consent_required": Text(
        "「個人情報の取扱い」を読み、同意のチェックを入れてください。",
        "Read the privacy notice and tick the box to agree.",
        "「[個人|こじん][情報|じょうほう]の [使|つか]い[方|かた]」を [読|よ]んで ください。[読|よ]んだら、チェックを [入|い]れて ください。",
    ),
    "notice_outdated": Text(
        "「個人情報の取扱い」が新しくなりました。新しい内容を読み、もう一度同意のチェックを入れてください。",
        "The privacy notice has changed. Read the new version and tick the box again.",
        "「[個人|こじん][情報|じょうほう]の [使|つか]い[方|かた]」が [新|あたら]しく なりました。もう[一度|いちど] [読|よ]んで、チェックを [入|い]れて ください。",
    ),
    "invalid_receipt": Text(
        "「{label}」は DX-261126-048215 のような形で入力してください。",
        "Enter {label} in the form DX-261126-048215.",
        "「{label}」は DX-261126-048215 のように [書|か]いて ください。",
    ),
    "unknown_field": Text(
        "この項目は受け付けていません。送る内容から外してください。",
        "This field is not accepted. Leave it out.",
        "この [項目|こうもく]は [送|おく]れません。[消|け]して ください。",
    ),
}

SUMMARY = Text(
    "入力内容に確認が必要な項目があります。各項目のメッセージに沿って直してください。",
    "Some fields need your attention. Follow the message next to each.",
    "[直|なお]す ところが あります。[下|した]の メッセージを [読|よ]んで ください。",
)

# Words a message must never use (a test reads the catalogue for them).
BLAMING = ("不正", "無効", "エラーが発生しました", "invalid", "illegal")


def label_of(field: str) -> FieldLabel:
    return FIELD_LABELS.get(field, UNKNOWN_LABEL)


def message_text(field: str, code: str, lang: str, **params: object) -> str:
    """One field's message in `lang` (ja, en or easy; easy keeps its reading markup)."""
    label = label_of(field)
    template = MESSAGES.get(code, MESSAGES["invalid_type"]).get(lang)
    return template.format(label=label.get(lang), **params)


def field_error(
    field: str, code: str, loc: tuple[str | int, ...] = (), **params: object
) -> FieldError:
    if code == "missing" and label_of(field).choice:
        code = "missing_choice"
    if code not in MESSAGES:
        code = "invalid_type"
    return FieldError(
        field=field,
        code=code,
        message=message_text(field, code, "ja", **params),
        message_en=message_text(field, code, "en", **params),
        loc=loc or (field,),
        params=tuple(params.items()),
    )


def message_in(error: FieldError, lang: str) -> str:
    """The error's message in the page's language (the JSON API carries ja and en)."""
    if lang == "en":
        return error.message_en
    if lang == "easy" and error.code in MESSAGES:
        return message_text(error.field, error.code, "easy", **dict(error.params))
    return error.message

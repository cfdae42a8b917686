"""Field labels and error messages shown next to form fields, Japanese first (pure)."""

from __future__ import annotations

from chalicelib.errors import FieldError

# field → (Japanese label, English label, is a choice rather than typed text)
FIELD_LABELS: dict[str, tuple[str, str, bool]] = {
    "requester_type": ("相談者区分", "Requester type", True),
    "organization": ("団体・事業者名", "Organisation", False),
    "name": ("お名前", "Name", False),
    "name_kana": ("ふりがな", "Name reading (kana)", False),
    "email": ("メールアドレス", "Email address", False),
    "phone": ("電話番号", "Phone number", False),
    "municipality": ("市町", "Municipality", True),
    "support_types": ("希望する支援", "Support wanted", True),
    "category": ("相談分野", "Category", True),
    "message": ("相談内容", "Your request", False),
    "preferred_format": ("希望する相談方法", "Preferred format", True),
    "privacy_consent": ("個人情報の取扱いへの同意", "Privacy consent", True),
    "privacy_notice_version": ("個人情報の取扱いの版", "Privacy notice version", False),
}

# code → (Japanese, English); {label}/{label_en}/{max} are filled in.
MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("「{label}」を入力してください。", "Please enter: {label_en}."),
    "missing_choice": ("「{label}」を選んでください。", "Please choose: {label_en}."),
    "too_long": (
        "「{label}」は{max}文字以内で入力してください。",
        "{label_en}: {max} characters at most.",
    ),
    "forbidden_character": (
        "「{label}」に使用できない文字（制御文字など）が含まれています。",
        "{label_en} contains characters that cannot be used (control characters).",
    ),
    "invisible_character": (
        "「{label}」に目に見えない特殊な文字（ゼロ幅スペースや改行の記号など）が含まれています。貼り付けた場合は、手で入力し直してください。",
        "{label_en} contains an invisible character (such as a zero-width space or a line separator); if you pasted it, please type it again.",
    ),
    "invalid_type": (
        "「{label}」の形式が正しくありません。",
        "{label_en} has the wrong format.",
    ),
    "invalid_choice": (
        "「{label}」は選択肢の中から選んでください。",
        "{label_en}: please pick one of the choices.",
    ),
    "invalid_email": (
        "メールアドレスの形式が正しくありません。（例：dx-taro@example.jp）",
        "This email address does not look right (e.g. dx-taro@example.jp).",
    ),
    "invalid_phone": (
        "電話番号は市外局番から数字で入力してください。（例：059-000-0000）",
        "Please enter the phone number with its area code (e.g. 059-000-0000).",
    ),
    "invalid_kana": (
        "「ふりがな」はひらがなかカタカナで入力してください。",
        "Please write the reading in hiragana or katakana.",
    ),
    "organization_required": (
        "相談者区分が「県民・県民グループ」以外のときは、「団体・事業者名」を入力してください。",
        "Please enter the organisation (required unless you ask as a resident).",
    ),
    "consent_required": (
        "「個人情報の取扱い」をお読みいただき、同意のチェックを入れてください。",
        "Please read the privacy notice and tick the box to agree.",
    ),
    "notice_outdated": (
        "「個人情報の取扱い」が更新されました。最新の内容をご確認のうえ、もう一度同意してください。",
        "The privacy notice has changed. Please read the current version and agree again.",
    ),
    "unknown_field": (
        "この項目は受け付けていません。",
        "This field is not accepted.",
    ),
}

SUMMARY = (
    "入力内容に確認が必要な項目があります。各項目のメッセージをご覧ください。",
    "Some fields need your attention; see the message next to each.",
)


def field_error(
    field: str, code: str, loc: tuple[str | int, ...] = (), **params: object
) -> FieldError:
    label, label_en, is_choice = FIELD_LABELS.get(field, ("項目", "Field", False))
    if code == "missing" and is_choice:
        code = "missing_choice"
    ja, en = MESSAGES.get(code, MESSAGES["invalid_type"])
    values = {"label": label, "label_en": label_en, **params}
    return FieldError(
        field=field,
        code=code,
        message=ja.format(**values),
        message_en=en.format(**values),
        loc=loc or (field,),
    )

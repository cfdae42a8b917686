"""RELIABILITY.md, line by line, mapped to the tests that prove it; the map is checked, so it cannot rot.

Every section and bullet of the reliability list, and each of its sixteen
"bad inputs and faults to try", names at least one test as
`path::function` (or `path::Class::function`). The checks below parse each
named file and fail when a test is renamed, moved or deleted, listing all
the references that broke at once.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

INTAKE = "tests/app/test_intake_routes.py"
FORM = "tests/app/test_form_routes.py"
SPAM = "tests/app/test_suspected_spam.py"
FORMTOKEN = "tests/unit/test_formtoken.py"
LINKS = "tests/app/test_action_links.py"
CONCURRENCY = "tests/app/test_concurrency.py"
HEADERS = "tests/app/test_security_headers.py"
EXPERTS = "tests/app/test_expert_flow.py"
ADMIN_CASES = "tests/app/test_admin_cases.py"
ADMIN_PRIVACY = "tests/app/test_admin_privacy.py"
ADMIN_QUERIES = "tests/app/test_admin_queries.py"
PAGES = "tests/app/test_action_pages.py"
ORIGIN = "tests/unit/test_origin.py"
ERROR_BODIES = "tests/app/test_error_bodies.py"
REPORT = "tests/unit/test_report.py"
INBOUND = "tests/integration/test_inbound.py"
OUTBOX = "tests/integration/test_outbox.py"
FAULTS = "tests/integration/test_faults.py"
STORE = "tests/integration/test_case_store.py"
MOTO_PATCHES = "tests/integration/test_moto_patches.py"
PACKAGE = "tests/integration/test_package.py"
SES_EVENTS = "tests/integration/test_ses_events.py"
RETENTION = "tests/integration/test_retention.py"
DEV_STACK = "tests/integration/test_dev_stack.py"
LOAD = "tests/load/test_load.py"
TEXT = "tests/unit/test_text.py"
MODELS = "tests/unit/test_models.py"
RENDER = "tests/unit/test_mail_render.py"
MIME = "tests/unit/test_inbound_mail.py"
COMMANDS = "tests/unit/test_commands.py"
FUZZ = "tests/unit/test_fuzz.py"
ARCHITECTURE = "tests/unit/test_architecture.py"
SECRETS = "tests/unit/test_secrets.py"
BROWSER = "tests/browser/test_form_browser.py"

# section → bullet (abridged from RELIABILITY.md) → tests that prove it
RELIABILITY: dict[str, dict[str, list[str]]] = {
    "Public intake": {
        "only declared fields, each with a length limit; unknown or oversize field: 4xx "
        "naming the field, the value never echoed": [
            f"{INTAKE}::test_unknown_or_oversize_field_is_named_and_never_echoed",
            f"{MODELS}::test_model_forbids_extra_fields_in_its_schema",
            f"{MODELS}::test_privacy_consent_is_only_the_json_boolean_true",
            f"{INTAKE}::test_privacy_consent_must_be_the_boolean_true",
            f"{MODELS}::test_error_messages_are_japanese_first_with_english_and_never_echo_the_value",
            f"{FUZZ}::test_parse_consultation_accepts_or_names_fields_and_never_raises_anything_else",
        ],
        "bodies over the limit refused with 413 before parsing": [
            f"{INTAKE}::test_malformed_nested_or_huge_bodies_are_refused_and_store_nothing",
        ],
        "NFKC for short fields, phone dashes stripped, NFC for long text, controls and bidi "
        "refused, raw value kept": [
            f"{INTAKE}::test_full_width_and_half_width_input_is_accepted_and_normalised",
            f"{TEXT}::test_short_field_refuses_control_and_bidi_characters",
            f"{TEXT}::test_short_field_refuses_invisible_characters_by_their_own_code",
            f"{TEXT}::test_long_text_keeps_emoji_sequences_and_turns_separators_into_line_ends",
            f"{INTAKE}::test_invisible_characters_in_one_line_fields_are_refused_by_field",
            f"{TEXT}::test_long_text_is_nfc_only_so_full_width_letters_stay",
            f"{TEXT}::test_phone_dashes_of_every_kind_are_stripped",
            f"{FUZZ}::test_normalisers_return_clean_stable_text_or_refuse_with_a_code",
            f"{FUZZ}::test_full_width_input_normalises_like_the_ascii_it_stands_for",
            f"{FUZZ}::test_a_phone_number_with_any_dashes_or_full_width_digits_is_its_digits",
        ],
        "user text never in a mail header; HTML parts autoescaped, never a link target": [
            f"{RENDER}::test_headers_carry_no_user_text_and_thread_by_case",
            f"{RENDER}::test_script_in_the_message_is_escaped_in_html_and_never_a_link",
            f"{RENDER}::test_header_injection_is_refused_when_building",
        ],
        "CORS only for configured origins; the no-JavaScript post carries a signed token": [
            f"{INTAKE}::test_configured_origin_gets_cors_headers_on_success_and_on_errors",
            f"{INTAKE}::test_foreign_origin_is_refused_and_stores_nothing",
            f"{INTAKE}::test_a_forged_host_does_not_make_a_foreign_origin_the_apis_own",
            f"{ORIGIN}::test_other_schemes_hosts_ports_and_malformed_origins_are_refused",
            f"{ORIGIN}::test_any_header_value_is_allowed_only_when_it_is_a_trusted_origin",
            f"{DEV_STACK}::test_cors_preflight_through_the_live_server_and_sigterm",
            f"{FORM}::test_missing_or_forged_token_shows_the_form_again_with_values_kept",
            f"{FUZZ}::test_any_mutation_of_a_form_token_is_invalid",
        ],
        "honeypot and signed render time (kept as suspected spam / asked to send again, "
        "never a receipt for nothing); 429 per client; no CAPTCHA": [
            f"{FORM}::test_filled_honeypot_is_kept_as_suspected_spam_and_mails_nobody",
            f"{FORM}::test_a_form_sent_too_fast_is_asked_to_confirm_again_and_loses_nothing",
            f"{FORM}::test_no_receipt_is_ever_shown_for_a_submission_that_is_not_stored",
            f"{INTAKE}::test_too_many_submissions_from_one_client_get_a_friendly_429",
            f"{BROWSER}::test_every_step_passes_axe",
        ],
        "double clicks and retries yield the same receipt number, not a second case": [
            f"{INTAKE}::test_the_same_payload_twice_yields_the_same_receipt_and_one_case",
            f"{INTAKE}::test_the_same_idempotency_key_yields_the_same_receipt",
            f"{CONCURRENCY}::test_ten_parallel_identical_submissions_get_one_receipt_and_one_case",
            f"{FAULTS}::test_an_intake_write_whose_answer_is_lost_is_not_stored_twice_on_resend",
        ],
    },
    "Links in email": {
        "HMAC over purpose, case, recipient, expiry and unique id, with a key id for "
        "rotation; keys from SSM": [
            f"{LINKS}::test_a_link_keeps_working_after_key_rotation",
            f"{FUZZ}::test_a_signed_link_holds_only_for_its_purpose_and_time",
            f"{SECRETS}::test_signing_keys_come_from_the_named_parameters",
        ],
        "bound to purpose, case and recipient; expired: a clear page, nothing changes": [
            f"{LINKS}::test_tampered_expired_cross_case_and_cross_recipient_links_are_refused",
            f"{EXPERTS}::test_an_expert_link_works_only_for_that_expert",
            f"{FUZZ}::test_any_mutation_of_a_signed_link_is_refused",
            f"{FUZZ}::test_random_strings_are_refused_as_links_with_the_documented_error",
            f"{PAGES}::test_every_branch_of_every_action_page_renders",
            f"{PAGES}::test_every_handled_exception_has_a_branch_that_renders_it",
        ],
        "GET and HEAD only confirm; only a POST acts; nothing submits by itself": [
            f"{LINKS}::test_scanners_and_previews_change_nothing_and_a_button_acts_once",
            f"{HEADERS}::test_every_page_of_every_route_carries_the_security_headers",
        ],
        "single use: ten parallel POSTs, one change, the rest see the outcome": [
            f"{LINKS}::test_ten_parallel_posts_of_one_link_change_the_case_once",
            f"{CONCURRENCY}::test_ten_parallel_posts_of_one_link_change_once_and_the_rest_see_the_outcome",
            f"{CONCURRENCY}::test_ten_parallel_posts_of_a_link_that_sends_mail_send_it_once",
        ],
        "link pages: no-store, no-referrer, no third-party resources; tokens never logged": [
            f"{HEADERS}::test_every_page_of_every_route_carries_the_security_headers",
            f"{HEADERS}::test_https_stages_send_hsts_on_every_answer_and_local_http_does_not",
            f"{HEADERS}::test_tokens_in_links_never_reach_the_logs",
        ],
    },
    "Inbound email": {
        "act only on passing verdicts, a valid reply address and a registered sender; "
        "otherwise quarantine": [
            f"{INBOUND}::test_a_spoofed_staff_reply_is_quarantined",
            f"{INBOUND}::test_failing_verdicts_are_quarantined",
            f"{INBOUND}::test_a_guessed_reply_address_is_quarantined",
            f"{FUZZ}::test_a_mutated_reply_address_names_no_case_or_the_same_one",
        ],
        "commands by mail limited to safe case actions": [
            f"{COMMANDS}::test_action_keywords",
            f"{COMMANDS}::test_a_keyword_line_with_a_bad_value_is_an_error",
            f"{INBOUND}::test_a_bad_command_changes_nothing_and_answers_with_the_line",
        ],
        "loops: machine mail dropped, outgoing mail marked auto-generated, answers capped": [
            f"{INBOUND}::test_auto_replies_and_list_mail_are_dropped_without_an_answer",
            f"{MIME}::test_machine_mail_headers_are_recognised",
            f"{RENDER}::test_headers_carry_no_user_text_and_thread_by_case",
            f"{INBOUND}::test_answers_to_replies_are_capped_per_case_and_day",
        ],
        "malformed or huge MIME never crashes; quotes stripped first; one SES message acts once": [
            f"{INBOUND}::test_malformed_mime_is_quarantined_not_a_crash",
            f"{MIME}::test_a_12_mb_message_is_refused_before_parsing",
            f"{FUZZ}::test_arbitrary_bytes_are_read_or_refused_quickly",
            f"{FUZZ}::test_repetitive_hostile_structures_are_read_or_refused_quickly",
            f"{FUZZ}::test_fixture_mails_with_mutated_headers_and_charsets_are_read_or_refused",
            f"{MIME}::test_nothing_of_the_quoted_part_header_or_signature_remains",
            f"{INBOUND}::test_the_same_ses_message_twice_changes_the_case_once",
        ],
    },
    "Sending": {
        "transactional outbox, backoff on throttling, conditional PENDING → SENT, "
        "permanent failures recorded and shown": [
            f"{STORE}::test_case_messages_claim_and_counters_are_written_together",
            f"{OUTBOX}::test_throttled_three_times_then_ok_sends_exactly_one_mail",
            f"{OUTBOX}::test_backoff_waits_before_the_next_try",
            f"{OUTBOX}::test_parallel_senders_send_each_mail_exactly_once",
            f"{OUTBOX}::test_stream_records_drive_the_sender",
            f"{OUTBOX}::test_ses_rejects_a_mail_it_is_recorded_and_staff_are_told",
            f"{FAULTS}::test_mark_sent_failing_after_ses_accepted_never_sends_twice",
            f"{FAULTS}::test_a_staff_mail_with_no_link_to_offer_is_sent_not_retried_forever",
        ],
        "bounces and complaints mark the address and tell staff; no retry loop": [
            f"{SES_EVENTS}::test_permanent_bounce_marks_the_address_records_it_and_tells_staff",
            f"{SES_EVENTS}::test_a_complaint_marks_the_address_and_tells_staff",
            f"{OUTBOX}::test_mail_to_an_undeliverable_address_fails_at_once_and_staff_are_told",
        ],
    },
    "Data": {
        "optimistic locking: the loser gets a 409, never a lost update": [
            f"{LINKS}::test_two_staff_acting_at_once_one_wins_the_other_is_told",
            f"{CONCURRENCY}::test_two_staff_acting_at_once_one_wins_and_the_other_is_told_nothing_changed",
            f"{ADMIN_CASES}::test_a_stale_version_is_409_and_changes_nothing",
            f"{EXPERTS}::test_the_session_cap_holds_under_concurrent_records",
        ],
        "no Scan on any request path": [
            f"{ARCHITECTURE}::test_no_scan_anywhere_in_the_application",
            f"{ADMIN_CASES}::test_lists_use_queries_only",
        ],
        "every staff or admin mutation audited in the same transaction": [
            f"{ADMIN_CASES}::test_the_audit_record_and_the_change_are_one_transaction",
            f"{ADMIN_CASES}::test_every_action_is_audited_with_field_names_only",
            f"{LINKS}::test_scanners_and_previews_change_nothing_and_a_button_acts_once",
        ],
        "retention class and expiry on every record, expired items ignored, export and "
        "erasure keep anonymous statistics": [
            f"{RETENTION}::test_every_item_written_has_a_retention_class_and_a_future_expiry",
            f"{STORE}::test_reads_ignore_expired_items",
            f"{ADMIN_PRIVACY}::test_export_by_email_returns_exactly_the_requesters_cases_with_their_timelines",
            f"{ADMIN_PRIVACY}::test_erase_by_email_removes_personal_data_and_keeps_the_statistics",
        ],
        "in AWS: point-in-time recovery, customer key, least-privilege roles, alarms": [
            f"{PACKAGE}::test_personal_data_at_rest_uses_the_desks_own_key",
            f"{PACKAGE}::test_failures_raise_alarms_and_logs_expire",
            f"{PACKAGE}::test_each_function_runs_with_its_own_role_from_its_own_policy_file",
            f"{ARCHITECTURE}::test_each_policy_allows_nothing_its_code_does_not_call",
        ],
    },
    "Bad inputs and faults to try": {
        "1. full-width phone and email, half-width kana name: accepted, normalised": [
            f"{INTAKE}::test_full_width_and_half_width_input_is_accepted_and_normalised",
            f"{FUZZ}::test_full_width_input_normalises_like_the_ascii_it_stands_for",
            f"{FUZZ}::test_a_phone_number_with_any_dashes_or_full_width_digits_is_its_digits",
        ],
        "2. CR/LF in any header-bound value: refused or neutralised": [
            f"{MODELS}::test_line_breaks_in_header_bound_values_are_refused",
            f"{RENDER}::test_header_injection_is_refused_when_building",
        ],
        "3. HTML or script in the message: shown escaped to staff": [
            f"{INTAKE}::test_script_in_the_message_reaches_staff_escaped",
            f"{RENDER}::test_script_in_the_message_is_escaped_in_html_and_never_a_link",
            f"{FORM}::test_script_in_the_message_is_escaped_on_the_confirm_page",
        ],
        "4. 1 MB body, deeply nested JSON: 413/400, nothing stored": [
            f"{INTAKE}::test_malformed_nested_or_huge_bodies_are_refused_and_store_nothing",
        ],
        "5. foreign origin, wrong content type: refused, no case": [
            f"{INTAKE}::test_foreign_origin_is_refused_and_stores_nothing",
            f"{INTAKE}::test_a_forged_host_does_not_make_a_foreign_origin_the_apis_own",
            f"{LINKS}::test_the_confirmation_button_posts_with_a_null_origin_and_foreign_origins_are_refused",
            f"{INTAKE}::test_wrong_content_type_is_refused_and_stores_nothing",
            f"{ERROR_BODIES}::test_a_content_type_a_route_does_not_accept_is_a_documented_415",
            f"{ERROR_BODIES}::test_a_method_a_path_does_not_have_is_a_documented_405",
            f"{FORM}::test_foreign_origin_post_is_refused",
        ],
        "6. honeypot filled (any value, any shape, repeated): kept apart as suspected spam, "
        "releasable, no mail until released; sent too fast: asked to send again, nothing "
        "lost; never a receipt for a submission not stored": [
            f"{FORM}::test_filled_honeypot_is_kept_as_suspected_spam_and_mails_nobody",
            f"{FORM}::test_a_repeated_honeypot_field_is_refused_and_stores_nothing",
            f"{FORM}::test_a_form_sent_too_fast_is_asked_to_confirm_again_and_loses_nothing",
            f"{FORM}::test_json_submission_from_the_form_follows_the_same_rules",
            f"{FORM}::test_no_receipt_is_ever_shown_for_a_submission_that_is_not_stored",
            f"{SPAM}::test_staff_list_held_cases_and_release_one_through_the_admin_api",
            f"{SPAM}::test_the_digest_lists_held_cases_with_links_that_release_or_discard",
            f"{SPAM}::test_a_held_case_counts_on_the_shelf_only_and_is_no_open_case",
            f"{FORMTOKEN}::test_honeypot_counts_any_value_in_any_shape_as_filled",
            f"{FORMTOKEN}::test_decode_form_refuses_a_repeated_single_value_field",
        ],
        "7. link scanner GET/HEAD, previews: no change; a person's POST acts once": [
            f"{LINKS}::test_scanners_and_previews_change_nothing_and_a_button_acts_once",
            f"{PAGES}::test_every_branch_of_every_action_page_renders",
            f"{CONCURRENCY}::test_ten_parallel_posts_of_one_link_change_once_and_the_rest_see_the_outcome",
        ],
        "8. tampered, expired, cross-case, cross-recipient tokens: refused": [
            f"{LINKS}::test_tampered_expired_cross_case_and_cross_recipient_links_are_refused",
            f"{FUZZ}::test_any_mutation_of_a_signed_link_is_refused",
            f"{FUZZ}::test_a_signed_link_holds_only_for_its_purpose_and_time",
        ],
        "9. spoofed staff reply, failed verdicts, malformed MIME: quarantined": [
            f"{INBOUND}::test_a_spoofed_staff_reply_is_quarantined",
            f"{INBOUND}::test_failing_verdicts_are_quarantined",
            f"{INBOUND}::test_malformed_mime_is_quarantined_not_a_crash",
        ],
        "10. out-of-office reply, bounce: dropped, no mail sent back": [
            f"{INBOUND}::test_auto_replies_and_list_mail_are_dropped_without_an_answer",
            f"{MIME}::test_machine_mail_fixtures_are_recognised",
        ],
        "11. SES throttled three times then OK: one mail; crash after send before "
        "mark-sent: no duplicate": [
            f"{OUTBOX}::test_throttled_three_times_then_ok_sends_exactly_one_mail",
            f"{OUTBOX}::test_crash_after_send_before_mark_sent_never_sends_twice",
            f"{FAULTS}::test_mark_sent_failing_after_ses_accepted_never_sends_twice",
        ],
        "12. two staff acting on one case at once: one wins, the other is told": [
            f"{LINKS}::test_two_staff_acting_at_once_one_wins_the_other_is_told",
            f"{CONCURRENCY}::test_two_staff_acting_at_once_one_wins_and_the_other_is_told_nothing_changed",
            f"{CONCURRENCY}::test_two_staff_pressing_at_the_same_moment_never_both_change_the_case",
        ],
        "13. an empty form pressed at once: the error summary, not a receipt": [
            f"{FORM}::test_an_empty_form_pressed_at_once_gets_the_error_summary_not_a_receipt",
            f"{BROWSER}::test_an_empty_form_pressed_at_once_shows_the_error_summary",
        ],
        "14. one form token posted many times: each post after the first confirms again; "
        "a second, different consultation from the same page is still stored": [
            f"{FORM}::test_one_form_token_stores_one_case_and_a_second_consultation_confirms_again",
            f"{FORM}::test_json_submission_from_the_form_follows_the_same_rules",
        ],
        "15. 1,000 submissions from 8 clients while SES fails 30% of sends: every case "
        "stored, every mail delivered exactly once after recovery; memory and latency flat": [
            # `make loadtest LOAD=fault`; its figures (RSS, latency first / last) in docs/figures.md.
            f"{LOAD}::test_fault_load_eight_clients_while_ses_fails_every_mail_delivered_once_after_recovery",
            f"{MOTO_PATCHES}::test_rollback_copies_only_the_touched_items_whatever_the_table_size",
            f"{MOTO_PATCHES}::test_copies_and_replaced_items_are_freed",
            f"{MOTO_PATCHES}::test_stream_keeps_the_newest_records_and_reads_from_its_trim_horizon",
        ],
        "16. out-of-range or absurd query parameters: 422 naming the parameter, never 500": [
            f"{ADMIN_QUERIES}::test_absurd_query_parameters_are_422_naming_the_parameter",
            f"{ADMIN_QUERIES}::test_edge_dates_of_the_case_list_are_refused_in_japanese_with_the_range",
            f"{ADMIN_QUERIES}::test_a_repeated_parameter_is_refused_by_name",
            f"{ADMIN_QUERIES}::test_a_route_without_a_query_refuses_any_parameter_by_name",
            f"{REPORT}::test_a_plan_refuses_dates_outside_the_desks_century_naming_the_parameter",
        ],
    },
    # Not lines of RELIABILITY.md: the faults and the load the production issue asks for.
    "Faults and load": {
        "DynamoDB throttled on intake: 503 JSON, nothing half-written, a resend works": [
            f"{FAULTS}::test_throttled_intake_answers_503_json_writes_nothing_and_a_resend_is_a_new_case",
            f"{FAULTS}::test_throttled_twice_then_ok_stores_one_case_without_the_client_noticing",
            f"{INTAKE}::test_dynamodb_throttling_answers_503_and_writes_nothing",
        ],
        "concurrent submissions: every case once, every mail once": [
            f"{LOAD}::test_concurrent_submissions_each_become_one_case_with_each_mail_sent_once",
            f"{LOAD}::test_full_load_each_submission_one_case_each_mail_once",
        ],
    },
}

SECTIONS = ["Public intake", "Links in email", "Inbound email", "Sending", "Data"]
BULLETS_PER_SECTION = {
    "Public intake": 7,
    "Links in email": 5,
    "Inbound email": 4,
    "Sending": 2,
    "Data": 5,
}


@cache
def defined_tests(path: str) -> frozenset[str]:
    """`name` and `Class::name` of every test function the file defines."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return frozenset(name for name in names if name.rpartition("::")[2].startswith("test_"))


def references() -> list[tuple[str, str, str]]:
    return [
        (section, bullet, reference)
        for section, bullets in RELIABILITY.items()
        for bullet, tests in bullets.items()
        for reference in tests
    ]


def test_every_referenced_test_exists() -> None:
    broken = []
    for section, bullet, reference in references():
        path, _, name = reference.partition("::")
        if not (ROOT / path).is_file():
            broken.append(f"{reference}: no such file ({section}: {bullet})")
        elif name not in defined_tests(path):
            broken.append(f"{reference}: no such test ({section}: {bullet})")
    assert broken == [], "\n".join(broken)


def test_every_line_of_the_list_has_a_test() -> None:
    assert [s for s in RELIABILITY if s in SECTIONS] == SECTIONS
    for section, count in BULLETS_PER_SECTION.items():
        assert len(RELIABILITY[section]) == count, section
    faults = [int(item.split(".")[0]) for item in RELIABILITY["Bad inputs and faults to try"]]
    # Every fault of the list, in its order: 1 to 16.
    assert faults == list(range(1, 17))
    empty = [f"{s}: {b}" for s, bullets in RELIABILITY.items() for b, t in bullets.items() if not t]
    assert empty == []


def test_the_check_notices_a_broken_reference() -> None:
    assert "test_every_referenced_test_exists" in defined_tests(
        "tests/unit/test_reliability_map.py"
    )
    assert "test_no_such_thing" not in defined_tests("tests/unit/test_reliability_map.py")
    assert (
        "TestSeparateSesEmulator::test_mail_reaches_the_emulator_named_by_aws_endpoint_url_sesv2"
        in defined_tests(DEV_STACK)
    )

"""Retention classes: how long each kind of stored item lives before the table's TTL removes it (pure).

Every item the desk stores carries `retention_class` (one of the names
below) and `expires_at` (epoch seconds, the table's TTL attribute). DynamoDB
deletes expired items lazily, so every read also ignores them
(storage/dynamo.py `is_live`). The periods come from settings (config.py,
docs/operations.md "Retention"); the defaults here equal the settings' defaults so that a
store built without settings (tests, the demo seeder) behaves like a default
deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400

# Cases with their timelines (and expert assignments): the desk's records.
CASE = "case"
# Outgoing mail records, inbound mail records, SES event records.
MAIL = "mail"
# Remembered submissions (Idempotency-Key and same-content window).
IDEMPOTENCY = "idempotency"
# Per-client submission windows.
RATE_LIMIT = "rate_limit"
# Records that a single-use link was used.
LINK = "link"
# Anonymous monthly counters.
STATISTICS = "statistics"
# The roster of experts, the staff list, the categories: reference data, renewed by every edit.
REFERENCE = "reference"
# Admin audit records (AUDIT_RETENTION_DAYS).
AUDIT = "audit"
# Admin bearer tokens (as digests): a year past their validity.
ACCESS = "access"
# Addresses marked undeliverable after a permanent bounce or a complaint.
DELIVERABILITY = "deliverability"

CLASSES = (
    CASE,
    MAIL,
    IDEMPOTENCY,
    RATE_LIMIT,
    LINK,
    STATISTICS,
    REFERENCE,
    DELIVERABILITY,
    AUDIT,
    ACCESS,
)


@dataclass(frozen=True)
class RetentionPolicy:
    """The configurable periods, in days (docs/operations.md "Retention" says why)."""

    case_days: int = 1825
    mail_days: int = 400
    statistics_days: int = 3650
    reference_days: int = 3650
    undeliverable_days: int = 365

    def statistics_expiry(self, now_epoch: int) -> int:
        return now_epoch + self.statistics_days * DAY

    def expert_expiry(self, now_epoch: int, *, active: bool) -> int:
        """An active expert lives `reference_days` from its last edit; an inactive one as long
        as a case that names it may (`case_days` from its deactivation)."""
        return now_epoch + (self.reference_days if active else self.case_days) * DAY

    def undeliverable_expiry(self, now_epoch: int) -> int:
        return now_epoch + self.undeliverable_days * DAY

    def mail_expiry(self, now_epoch: int) -> int:
        return now_epoch + self.mail_days * DAY

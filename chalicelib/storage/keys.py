"""The single-table key design: the only place keys and index values are spelled.

One DynamoDB table (infra/resources.yaml, `DeskTable`) with two overloaded
global secondary indexes. Every access pattern is a GetItem, a Query on the
table or a Query on an index; nothing on a request path scans.

| item                | pk                         | sk                   | gsi1pk / gsi1sk                        | gsi2pk / gsi2sk                       |
|---------------------|----------------------------|----------------------|----------------------------------------|---------------------------------------|
| case                | CASE#<receipt>             | CASE                 | STATUS#<status> / <created>#<receipt>  | MONTH#<YYYY-MM> / <created>#<receipt> |
| timeline event      | CASE#<receipt>             | EVENT#<at>#<id>      |                                        |                                       |
| outgoing mail       | CASE#<receipt>             | MSG#<message id>     |                                        | OUTBOX / <due>#<message id> (*)       |
| desk-wide mail      | DESK#<kind>-<date>         | MSG#<message id>     |                                        | OUTBOX / <due>#<message id> (*)       |
| expert assignment   | CASE#<receipt>             | EXPERT#<expert id>   | EXPERT#<expert id> / <asked>#<receipt> |                                       |
| expert (roster)     | EXPERT#<expert id>         | EXPERT               | ROSTER / <kind>#<expert id>            |                                       |
| idempotency record  | IDEM#<kind>#<digest>       | IDEM                 |                                        |                                       |
| statistics counter  | STATS#<YYYY-MM>            | SHARD#<n>            |                                        |                                       |
| rate-limit window   | RATE#<client digest>#<hour>| RATE                 |                                        |                                       |
| used action link    | USED#<link unique id>      | USED                 |                                        |                                       |
| inbound mail        | INBOUND#<SES message id>   | INBOUND              | QUARANTINE / <at>#<SES id> (quarantined only) |                                |
| admin token         | TOKEN#<sha256 of token>    | TOKEN                | TOKENS / <token id>                    |                                       |
| audit record        | AUDIT#<YYYY-MM>            | <at>#<audit id>      | AUDIT#<target type>#<target id> / <at>#<audit id> |                            |
| desk staff member   | REFERENCE                  | STAFF#<staff id>     |                                        |                                       |
| categories, support types | REFERENCE            | TAXONOMY             |                                        |                                       |
| undeliverable address | ADDRESS#<sha256 of address>| ADDRESS           |                                        |                                       |
| SES event record    | SESEVENT#<sha256 of event id>| SESEVENT           |                                        |                                       |
| requester's case    | REQUESTER#<requester digest> | CASE#<receipt>     |                                        |                                       |
| survey record       | CASE#<receipt>             | SURVEY               | SURVEY#PENDING / <ended>#<receipt> (*) | FOLLOWUP#PENDING / <ended>#<receipt> (**) |
| console sign-in link | SIGNIN#<sha256 of secret> | SIGNIN               |                                        |                                       |
| console session     | SESSION#<sha256 of id>     | SESSION              |                                        |                                       |

(*) only while the mail is PENDING or SENDING: the outbox index is sparse; on a
survey record, only until it is answered or reminded once.
(**) only on a 完了 case's survey record until the follow-up is sent (sparse).

A survey record (core/survey.py) is written in the transaction that ends a case as
完了 or 他機関紹介: it lives under the case (the free comment is erased with the case);
the anonymous counts of its answers go to the month's statistics counters.

An address is marked undeliverable (permanent bounce, complaint) under the
SHA-256 of its lowercased form: the address never appears in a key, and the
mark holds no copy of it. SES event records exist only to make a redelivered
SNS notification act once. Every item carries `retention_class` and
`expires_at` (core/retention.py; docs/operations.md "Retention").

A requester's case item (`kind` "requester_case") is written in the intake
transaction beside the case. It finds a requester's cases by email for
personal-data requests (docs/api.md "Personal data requests") without a Scan: the
key holds core/privacy.py `requester_digest(email)`, the SHA-256 of the NFKC-normalised,
trimmed, lowercased address, never the address; the item holds only the
receipt number, the creation time and the case's retention class and expiry.
Erasure deletes it.

Mail about no single case (the daily digest, the monthly summary) carries a
pseudo receipt number `DESK-<kind>-<date>` (core/deskmail.py; e.g.
DESK-DIGEST-2026-11-26): the
sender threads and keys every message by its receipt number, and
`message_key` files these under their own DESK# partition, one per run, so
their deterministic message ids make a second run of the same day a no-op.

Console sign-in links and sessions (core/console.py) are keyed by the
SHA-256 of their secret: the table never holds a usable link or session id.

Access patterns:
- a case by receipt number, with its timeline, mail and assignments: Query pk=CASE#<receipt>
- cases by status, newest or oldest first, in a date range: Query gsi1 pk=STATUS#<status>
- open cases (daily digest, reminders): one such Query per open status
- cases by expert: Query gsi1 pk=EXPERT#<expert id>
- one expert (profile, `open_cases`, `last_asked_at`): GetItem pk=EXPERT#<expert id>
  (BatchGetItem for several)
- the roster, advisors then partners: Query gsi1 pk=ROSTER (one small
  partition: a few dozen experts, edited a few times a year)
- cases of a month (statistics, exports): Query gsi2 pk=MONTH#<YYYY-MM>
- monthly counters: Query pk=STATS#<YYYY-MM> (the shards are summed; sharding
  keeps concurrent submissions from conflicting on one hot item)
- quarantined inbound mail, newest first: Query gsi1 pk=QUARANTINE
- an admin token by its digest (the authorizer): GetItem pk=TOKEN#<digest>;
  every token, by id: Query gsi1 pk=TOKENS
- the audit log of a month: Query pk=AUDIT#<YYYY-MM>; of one target
  (an expert, a case, a staff member): Query gsi1 pk=AUDIT#<type>#<id>
- the staff list and the categories / support types, together: Query
  pk=REFERENCE (a handful of items; cached for a minute per process)
- is any of these addresses undeliverable (the sender, before each mail):
  BatchGetItem pk=ADDRESS#<digest> (one call for the recipients and the staff
  who would be told)
- a requester's cases (export, erasure): Query pk=REQUESTER#<requester digest>,
  then Query each pk=CASE#<receipt>; the inbound mail that changed a case:
  BatchGetItem pk=INBOUND#<SES id> for the ids its timeline names
- unanswered surveys to remind: Query gsi1 pk=SURVEY#PENDING, sk <= the cut-off day;
  closed cases due a follow-up: Query gsi2 pk=FOLLOWUP#PENDING, sk in the due window
- mail due to be sent, and claims that outlived their lease: Query gsi2
  pk=OUTBOX, sk <= now. One partition is ample for a desk's volume
  (thousands of mails a month); shard it if that ever grows by 100x.

Timestamps in sort keys are UTC ISO-8601 with a fixed width, so that string
order is time order.
"""

from __future__ import annotations

import hashlib

from chalicelib.core.deskmail import DESK_RECEIPT_PREFIX, is_desk_receipt

COUNTER_SHARDS = 4
OUTBOX_PARTITION = "OUTBOX"
ROSTER_PARTITION = "ROSTER"


def case_key(receipt_number: str) -> dict[str, str]:
    return {"pk": f"CASE#{receipt_number}", "sk": "CASE"}


def status_partition(status: str) -> str:
    """The gsi1 partition of the cases in one status."""
    return f"STATUS#{status}"


def month_partition(month: str) -> str:
    """The gsi2 partition of the cases received in one month (YYYY-MM, Japan time)."""
    return f"MONTH#{month}"


def case_indexes(status: str, month: str, created: str, receipt_number: str) -> dict[str, str]:
    return {
        "gsi1pk": status_partition(status),
        "gsi1sk": f"{created}#{receipt_number}",
        "gsi2pk": f"MONTH#{month}",
        "gsi2sk": f"{created}#{receipt_number}",
    }


def event_key(receipt_number: str, at: str, event_id: str) -> dict[str, str]:
    # A desk-wide message's failure event stays beside the message.
    return {"pk": mail_partition(receipt_number), "sk": f"EVENT#{at}#{event_id}"}


def mail_partition(receipt_number: str) -> str:
    """Where a message lives: under its case, or under DESK#<kind>-<date> for desk-wide mail."""
    if is_desk_receipt(receipt_number):
        return f"DESK#{receipt_number.removeprefix(DESK_RECEIPT_PREFIX)}"
    return f"CASE#{receipt_number}"


def message_key(receipt_number: str, message_id: str) -> dict[str, str]:
    return {"pk": mail_partition(receipt_number), "sk": f"MSG#{message_id}"}


def outbox_index(due: str, message_id: str) -> dict[str, str]:
    return {"gsi2pk": OUTBOX_PARTITION, "gsi2sk": f"{due}#{message_id}"}


def idempotency_key(kind: str, digest: str) -> dict[str, str]:
    return {"pk": f"IDEM#{kind}#{digest}", "sk": "IDEM"}


def counter_key(month: str, shard: int) -> dict[str, str]:
    return {"pk": f"STATS#{month}", "sk": f"SHARD#{shard}"}


def rate_key(client_digest: str, hour: str) -> dict[str, str]:
    return {"pk": f"RATE#{client_digest}#{hour}", "sk": "RATE"}


def token_use_key(unique_id: str) -> dict[str, str]:
    """The record that a single-use link was used (written with the change it made)."""
    return {"pk": f"USED#{unique_id}", "sk": "USED"}


def inbound_key(ses_message_id: str) -> dict[str, str]:
    """One inbound message, processed or quarantined (makes redelivery harmless)."""
    return {"pk": f"INBOUND#{ses_message_id}", "sk": "INBOUND"}


def quarantine_index(at: str, ses_message_id: str) -> dict[str, str]:
    return {"gsi1pk": "QUARANTINE", "gsi1sk": f"{at}#{ses_message_id}"}


def expert_key(expert_id: str) -> dict[str, str]:
    return {"pk": f"EXPERT#{expert_id}", "sk": "EXPERT"}


def roster_index(kind: str, expert_id: str) -> dict[str, str]:
    """Every expert, active or not, in one gsi1 partition (the admin list shows both)."""
    return {"gsi1pk": ROSTER_PARTITION, "gsi1sk": f"{kind}#{expert_id}"}


# Admin data (see the admin section of the table above).
TOKENS_PARTITION = "TOKENS"
REFERENCE_PARTITION = "REFERENCE"


def token_key(digest: str) -> dict[str, str]:
    """An admin bearer token, keyed by its SHA-256 digest (the token itself is never stored)."""
    return {"pk": f"TOKEN#{digest}", "sk": "TOKEN"}


def token_index(token_id: str) -> dict[str, str]:
    return {"gsi1pk": TOKENS_PARTITION, "gsi1sk": token_id}


def audit_key(at: str, audit_id: str) -> dict[str, str]:
    """An audit record in its month's partition (month = the UTC month of `at`)."""
    return {"pk": f"AUDIT#{at[:7]}", "sk": f"{at}#{audit_id}"}


def audit_target_index(target_type: str, target_id: str, at: str, audit_id: str) -> dict[str, str]:
    return {"gsi1pk": f"AUDIT#{target_type}#{target_id}", "gsi1sk": f"{at}#{audit_id}"}


def staff_key(staff_id: str) -> dict[str, str]:
    return {"pk": REFERENCE_PARTITION, "sk": f"STAFF#{staff_id}"}


def taxonomy_key() -> dict[str, str]:
    return {"pk": REFERENCE_PARTITION, "sk": "TAXONOMY"}


def address_digest(address: str) -> str:
    """How an address is named in keys: the SHA-256 of its trimmed, lowercased form."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def address_key(address: str) -> dict[str, str]:
    """The undeliverable mark of one address (the address itself never appears in the key)."""
    return {"pk": f"ADDRESS#{address_digest(address)}", "sk": "ADDRESS"}


def ses_event_key(event_id: str) -> dict[str, str]:
    """The record that one SES event notification was processed (makes redelivery harmless)."""
    digest = hashlib.sha256(event_id.encode("utf-8")).hexdigest()
    return {"pk": f"SESEVENT#{digest}", "sk": "SESEVENT"}


def requester_partition(digest: str) -> str:
    return f"REQUESTER#{digest}"


def requester_case_key(digest: str, receipt_number: str) -> dict[str, str]:
    """One case of one requester (`digest`: core/privacy.py requester_digest); written with
    the case, deleted on erasure."""
    return {"pk": requester_partition(digest), "sk": f"CASE#{receipt_number}"}


SURVEY_PENDING_PARTITION = "SURVEY#PENDING"
FOLLOWUP_PENDING_PARTITION = "FOLLOWUP#PENDING"


def survey_key(receipt_number: str) -> dict[str, str]:
    """A case's survey record (under the case: erased and expired with it)."""
    return {"pk": f"CASE#{receipt_number}", "sk": "SURVEY"}


def survey_pending_index(ended_at: str, receipt_number: str) -> dict[str, str]:
    """Sparse gsi1 entry of a survey not yet answered nor reminded."""
    return {"gsi1pk": SURVEY_PENDING_PARTITION, "gsi1sk": f"{ended_at}#{receipt_number}"}


def followup_pending_index(ended_at: str, receipt_number: str) -> dict[str, str]:
    """Sparse gsi2 entry of a closed case whose follow-up is not yet sent."""
    return {"gsi2pk": FOLLOWUP_PENDING_PARTITION, "gsi2sk": f"{ended_at}#{receipt_number}"}


def signin_key(link_digest: str) -> dict[str, str]:
    return {"pk": f"SIGNIN#{link_digest}", "sk": "SIGNIN"}


def session_key(session_digest: str) -> dict[str, str]:
    return {"pk": f"SESSION#{session_digest}", "sk": "SESSION"}

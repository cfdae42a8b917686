"""`python -m tests.load.launcher`: the `make dev` stack (infra.dev), tuned so load reaches the app.

Two limits of the local tools, not of the desk, would otherwise decide the
result of a load test:

- chalice local listens with Python's default backlog of 5: the kernel
  resets connections beyond that before the API sees them (API Gateway has
  no such limit). Raised here to LISTEN_BACKLOG.
- moto makes a transaction undoable by deep-copying the whole table once
  per item of the transaction: a submission (a seven-item transaction)
  costs about 1 s at 50 cases in the table and 3.7 s at 150, so DynamoDB's
  read timeout (5 s, chalicelib/deps.py) fires long before 200 queued
  submissions are through. Here only the items a transaction touches are
  copied and put back on failure: the same outcome, in time independent of
  the table's size. Rolled-back writes stay in moto's stream records; the
  local stack reads no stream (its outbox drain queries the outbox index).

Everything else is infra.dev unchanged: moto in-process with DynamoDB
operations serialised (infra/local.py), chalice local, the outbox drain.
"""

from __future__ import annotations

import copy
import sys
import threading
from typing import Any

LISTEN_BACKLOG = 1024


def raise_listen_backlog() -> None:
    import chalice.local

    chalice.local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG


def copy_only_touched_items_for_rollback() -> None:
    """Replace moto's whole-table snapshot per transaction item with per-item undo.

    Must run before infra/local.make_moto_dynamodb_atomic() wraps the backend
    (infra.dev calls it when it starts moto): the lock then covers this too.
    """
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    in_transaction = threading.local()

    class CopyShim:
        """moto's module-level `copy`: table snapshots become no-ops inside a transaction."""

        copy = staticmethod(copy.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(in_transaction, "active", False) and isinstance(value, Table):
                return value  # rollback below restores what the transaction touched
            return copy.deepcopy(value, memo)

    models.copy = CopyShim  # type: ignore[assignment]
    original = DynamoDBBackend.transact_write_items

    def touched_items(
        backend: Any, transact_items: list[dict[str, Any]]
    ) -> list[tuple[Table, DynamoType, DynamoType | None, Any]]:
        found = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            source = op.get("Item") if op_type == "Put" else op.get("Key")
            if table is None or not isinstance(source, dict):
                continue  # moto refuses it before writing anything
            try:
                hash_key = DynamoType(source[table.hash_key_attr])
                range_key = (
                    DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
                )
            except KeyError:
                continue  # likewise refused before any write
            before = copy.deepcopy(table.get_item(hash_key, range_key))
            found.append((table, hash_key, range_key, before))
        return found

    def restore(
        table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Any
    ) -> None:
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        undo = touched_items(self, transact_items)
        in_transaction.active = True
        try:
            return original(self, transact_items)
        except BaseException:
            for entry in reversed(undo):
                restore(*entry)
            raise
        finally:
            in_transaction.active = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def main() -> int:
    raise_listen_backlog()
    copy_only_touched_items_for_rollback()
    from infra.dev import main as dev_main

    return dev_main()


if __name__ == "__main__":
    sys.exit(main())

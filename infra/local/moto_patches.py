"""Changes to moto's DynamoDB so the local stack and the tests cost what DynamoDB costs.

Stock moto 5.2 has three habits that make every write dearer and the process
larger as the table grows (measured with tracemalloc, docs/figures.md):

- `transact_write_items` deep-copies the whole table once per transaction
  item so it can roll back: a submission (eight items) on a table of N items
  copies 8N items, stream records included.
- Every instance of a moto model (`BaseModel`) is appended to a class-level
  list for the dashboard and never released: each of those deep copies, and
  every item copy `update_item` makes, stays in memory for good (about
  14 MB per submission at a few hundred cases).
- Each table's stream keeps every record ever written.

`prepare_moto()` replaces them with: a rollback that snapshots only the items
a transaction writes (the same all-or-nothing outcome, conditions and
cancellation reasons: moto's own code still runs), weak tracking of DynamoDB
model instances (the dashboard still lists what is alive), and a stream that
keeps the newest MAX_STREAM_RECORDS records per table. An index Query sorts
and examines only the items of its partition (moto sorted the whole table
first: about 100 to 200 ms at 16,000 items, once a second in the outbox
drain). It also serialises
moto's DynamoDB operations, as DynamoDB makes each conditional write atomic.

Used by the dev launcher and the test fixtures; never packaged (infra/).
"""

from __future__ import annotations

import copy
import functools
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Records kept per table stream. Nothing local reads a stream continuously
# (the dev stack drains the outbox through its index); tests read a few.
MAX_STREAM_RECORDS = 1000

_MOTO_DYNAMODB_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
)

_installed = threading.Lock()


def prepare_moto() -> None:
    """Apply every change below to moto in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    with _installed:
        if getattr(DynamoDBBackend, "_dx_desk_prepared", False):
            return
        track_dynamodb_models_weakly()
        keep_stream_records_bounded()
        read_only_the_partition_on_index_queries()
        # The rollback first: the lock below must wrap it too.
        roll_back_only_touched_items()
        serialise_operations()
        DynamoDBBackend._dx_desk_prepared = True  # type: ignore[attr-defined]


# --- serialised operations ------------------------------------------------------


def serialise_operations() -> None:
    """One DynamoDB operation at a time, as DynamoDB makes each conditional write atomic.

    moto checks a condition and then writes without a lock, so two threads can
    both pass `state = PENDING` and both write: a race real DynamoDB never
    allows. Concurrency tests and the local stack need the real guarantee.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in _MOTO_DYNAMODB_OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


# --- rollback of touched items only --------------------------------------------------


@dataclass
class _Snapshot:
    """One item a transaction may write, as it was before (None: absent)."""

    table: Any
    hash_key: Any
    range_key: Any
    before: Any

    def restore(self) -> None:
        items = self.table.items
        if self.range_key is None:
            if self.before is None:
                items.pop(self.hash_key, None)
            else:
                items[self.hash_key] = self.before
            return
        bucket = items.get(self.hash_key)
        if self.before is not None:
            items[self.hash_key][self.range_key] = self.before
        elif bucket is not None:
            bucket.pop(self.range_key, None)
            if not bucket:
                del items[self.hash_key]


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The stored item or None, without moto's defaultdict adding an empty bucket."""
    found = table.items.get(hash_key)
    if range_key is None or found is None:
        return found
    return found.get(range_key)


def snapshot_touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Snapshot]:
    """Deep copies of the items the Put, Update and Delete entries name.

    Entries moto refuses before writing anything (an unknown table, a key
    missing from an item) are skipped; a ConditionCheck writes nothing.
    """
    from moto.dynamodb.models.dynamo_type import DynamoType

    found = []
    for entry in transact_items:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        if op_type not in ("Put", "Update", "Delete") or not isinstance(op, dict):
            continue
        table = backend.tables.get(op.get("TableName"))
        source = op.get("Item") if op_type == "Put" else op.get("Key")
        if table is None or not isinstance(source, dict):
            continue
        try:
            hash_key = DynamoType(source[table.hash_key_attr])
            range_key = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError):
            continue
        before = _stored(table, hash_key, range_key)
        found.append(_Snapshot(table, hash_key, range_key, copy.deepcopy(before)))
    return found


def _stream_ends(snapshots: list[_Snapshot]) -> list[tuple[Any, int]]:
    """(shard, next sequence number) of each touched table's stream."""
    shards = {id(s.table): s.table.stream_shard for s in snapshots if s.table.stream_shard}
    return [(shard, shard.starting_sequence_number + len(shard.items)) for shard in shards.values()]


def _drop_stream_records_from(shard: Any, next_sequence: int) -> None:
    del shard.items[max(0, next_sequence - shard.starting_sequence_number) :]


class _NoTableCopies:
    """Stands in for the `copy` module inside moto.dynamodb.models.

    During a transaction (on this thread), moto's whole-table backup becomes
    the table itself, and its "restore" a no-op: the per-item snapshots undo
    the writes instead. Every other copy is a real one.
    """

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type
        self.active = threading.local()
        self.copy = copy.copy

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(self.active, "on", False) and isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)


def roll_back_only_touched_items() -> None:
    """Replace moto's whole-table snapshot per transaction item with per-item undo.

    moto's own transact_write_items still runs (conditions, ordering,
    cancellation reasons, validation); only what it backs up changes. When it
    raises, the items it may have written are put back as they were, and the
    stream records it added are dropped, as moto's whole-table restore did.
    """
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(models, "copy", None) is not copy:
        raise RuntimeError(
            "moto.dynamodb.models no longer uses the copy module as expected: "
            "check infra/local/moto_patches.py against this moto version"
        )
    shim = _NoTableCopies(Table)
    setattr(models, "copy", shim)  # noqa: B010  (moto's module global, not an export)
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        snapshots = snapshot_touched_items(self, transact_items)
        stream_ends = _stream_ends(snapshots)
        shim.active.on = True
        try:
            return original(self, transact_items)
        except BaseException:
            # In reverse: an item named twice (refused by moto) ends as it began.
            for snapshot in reversed(snapshots):
                snapshot.restore()
            for shard, next_sequence in stream_ends:
                _drop_stream_records_from(shard, next_sequence)
            raise
        finally:
            shim.active.on = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# --- weak instance tracking ---------------------------------------------------------


class WeakInstances:
    """moto's per-class instance list (read by /moto-api/data.json), without keeping them alive."""

    def __init__(self, initial: list[Any] | None = None) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}
        for instance in initial or ():
            self.append(instance)

    def append(self, instance: Any) -> None:
        key = id(instance)
        refs = self._refs

        def forget(ref: weakref.ref[Any], key: int = key) -> None:
            if refs.get(key) is ref:
                del refs[key]

        refs[key] = weakref.ref(instance, forget)

    def __iter__(self) -> Iterator[Any]:
        alive: list[Any] = [ref() for ref in list(self._refs.values())]
        return iter([instance for instance in alive if instance is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _weakly_tracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    instance: Any = object.__new__(cls)
    tracked = cls.__dict__.get("instances_tracked")
    if not isinstance(tracked, WeakInstances):
        # First instance since moto reset its lists (mock_aws() does at exit).
        tracked = WeakInstances(list(tracked or ()))
        cls.instances_tracked = tracked  # type: ignore[attr-defined]
    tracked.append(instance)
    return instance


def track_dynamodb_models_weakly() -> None:
    """Tables, items, indexes and stream records are tracked weakly: copies can be freed."""
    import moto.dynamodb.models  # noqa: F401  (registers the model classes)
    from moto.core.model_instances import model_data

    for cls in list(model_data["dynamodb"].values()):
        cls.__new__ = staticmethod(_weakly_tracked_new)  # type: ignore[method-assign]


# --- bounded streams --------------------------------------------------------------------


def keep_stream_records_bounded(limit: int = MAX_STREAM_RECORDS) -> None:
    """Each table's stream keeps its newest `limit` records, as DynamoDB trims after 24 h.

    The shard's starting sequence number moves with the trim, so TRIM_HORIZON
    and LATEST iterators stay right; an iterator older than the trim point
    reads from the oldest record kept.
    """
    from moto.dynamodb.models.table import StreamShard

    original_add = StreamShard.add
    original_get = StreamShard.get

    @functools.wraps(original_add)
    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        excess = len(self.items) - limit
        if excess > 0:
            del self.items[:excess]
            self.starting_sequence_number += excess

    @functools.wraps(original_get)
    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        return original_get(self, max(start, self.starting_sequence_number), quantity)

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard.get = get  # type: ignore[method-assign]


# --- index queries ---------------------------------------------------------------------------


def read_only_the_partition_on_index_queries() -> None:
    """An index Query hands moto only the items whose index key matches, not the sorted table.

    moto's Table.query walks `all_items()` (every item, sorted) and then keeps
    those whose index hash key matches. Here `all_items` returns just those
    items, in the same order, for the duration of that call: moto's own
    matching, range conditions, filters, paging and limits then run as before.
    Still one pass over the table's dict per Query, but without the sort and
    moto's per-item work.
    """
    from moto.dynamodb.models.table import Table

    original = Table.query

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if not index_name or not conditions:
            return original(self, *args, **kwargs)

        def partition() -> list[Any]:
            buckets = self.items.values()
            items = (
                [item for bucket in buckets for item in bucket.values()]
                if self.range_key_attr
                else list(buckets)
            )
            found = [
                item
                for item in items
                if all(
                    (value := item.attrs.get(name)) is not None and value == wanted
                    for name, wanted in conditions
                )
            ]
            return sorted(
                found, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key
            )

        self.all_items = partition  # shadows the method for this call (under the lock)
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]

"""moto as the tests and the local stack run it (infra/local/moto_patches.py): transactions stay
all-or-nothing while a rollback copies only what the transaction touches, streams stay
bounded, and the copies are freed."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

OTHER_TABLE = "moto-patch-other"


@pytest.fixture
def db(aws: dict[str, Any]) -> Iterator[Any]:
    """The desk table (from infra/, streamed) plus a second plain table."""
    client = aws["dynamodb"]
    client.create_table(
        TableName=OTHER_TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client


def desk(aws: dict[str, Any]) -> str:
    return str(aws["env"]["TABLE_NAME"])


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "X"}}


def put(table: str, pk: str, n: int, condition: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table, "Item": {**key(pk), "n": {"N": str(n)}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def bump(table: str, pk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": key(pk),
            "UpdateExpression": "SET n = n + :one, touched = :yes",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":yes": {"BOOL": True}},
        }
    }


def delete(table: str, pk: str) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": key(pk)}}


def other_must_be(value: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": OTHER_TABLE,
            "Key": {"id": {"S": "flag"}},
            "ConditionExpression": "v = :v",
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
    }


def everything(client: Any, table: str) -> dict[str, dict[str, Any]]:
    # A test may scan to prove what was (not) written; request paths never do.
    return {item["pk"]["S"]: item for item in client.scan(TableName=table)["Items"]}


def stream_records(client: Any, table: str) -> list[dict[str, Any]]:
    import boto3

    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return records


def seed(client: Any, table: str, count: int) -> None:
    for start in range(0, count, 25):
        requests = [
            {"PutRequest": {"Item": {**key(f"seed-{i:05d}"), "n": {"N": str(i)}}}}
            for i in range(start, min(start + 25, count))
        ]
        client.batch_write_item(RequestItems={table: requests})


def cancel(client: Any, items: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(client.exceptions.TransactionCanceledException) as caught:
        client.transact_write_items(TransactItems=items)
    return [reason["Code"] for reason in caught.value.response["CancellationReasons"]]


def test_cancelled_transaction_leaves_every_item_and_stream_record_as_it_was(
    aws: dict[str, Any], db: Any
) -> None:
    table = desk(aws)
    db.transact_write_items(TransactItems=[put(table, "A", 1), put(table, "D", 4)])
    db.put_item(TableName=OTHER_TABLE, Item={"id": {"S": "flag"}, "v": {"S": "open"}})
    before, records_before = everything(db, table), stream_records(db, table)

    # An update, a delete and a put of a new item pass; a condition on another
    # table's item fails last, after moto has applied the three writes.
    codes = cancel(
        db,
        [bump(table, "A"), delete(table, "D"), put(table, "NEW", 9), other_must_be("closed")],
    )

    assert codes == ["None", "None", "None", "ConditionalCheckFailed"]
    assert everything(db, table) == before
    assert "NEW" not in everything(db, table)
    assert stream_records(db, table) == records_before
    assert db.get_item(TableName=OTHER_TABLE, Key={"id": {"S": "flag"}})["Item"]["v"] == {
        "S": "open"
    }


def test_a_failed_condition_on_a_written_key_cancels_with_its_reason_and_old_item(
    aws: dict[str, Any], db: Any
) -> None:
    table = desk(aws)
    db.transact_write_items(TransactItems=[put(table, "A", 1), put(table, "C", 7)])
    before = everything(db, table)
    failing = put(table, "C", 8, "attribute_not_exists(pk)")
    failing["Put"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"

    with pytest.raises(db.exceptions.TransactionCanceledException) as caught:
        db.transact_write_items(TransactItems=[bump(table, "A"), put(table, "B", 2), failing])

    reasons = caught.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert reasons[2]["Item"]["n"] == {"N": "7"}
    assert everything(db, table) == before


def test_conditions_on_other_keys_and_tables_let_the_transaction_commit(
    aws: dict[str, Any], db: Any
) -> None:
    table = desk(aws)
    db.transact_write_items(TransactItems=[put(table, "A", 1), put(table, "D", 4)])
    db.put_item(TableName=OTHER_TABLE, Item={"id": {"S": "flag"}, "v": {"S": "open"}})
    guard = {
        "ConditionCheck": {
            "TableName": table,
            "Key": key("D"),
            "ConditionExpression": "n = :four",
            "ExpressionAttributeValues": {":four": {"N": "4"}},
        }
    }

    db.transact_write_items(
        TransactItems=[bump(table, "A"), put(table, "B", 2), guard, other_must_be("open")]
    )

    after = everything(db, table)
    assert after["A"]["n"] == {"N": "2"} and after["A"]["touched"] == {"BOOL": True}
    assert after["B"]["n"] == {"N": "2"}
    assert after["D"]["n"] == {"N": "4"}


def test_two_operations_on_one_item_are_refused_and_undone(aws: dict[str, Any], db: Any) -> None:
    table = desk(aws)
    db.put_item(TableName=table, Item={**key("A"), "n": {"N": "1"}})
    before = everything(db, table)

    with pytest.raises(db.exceptions.ClientError) as caught:
        db.transact_write_items(
            TransactItems=[put(table, "NEW", 1), bump(table, "A"), delete(table, "A")]
        )

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert everything(db, table) == before


def copies_for_a_cancelled_transaction(
    aws: dict[str, Any], db: Any, monkeypatch: pytest.MonkeyPatch, table_size: int
) -> int:
    """Items deep-copied while one four-item transaction is cancelled on a table of `table_size`."""
    from moto.dynamodb.models.dynamo_type import Item

    table = desk(aws)
    seed(db, table, table_size)
    db.transact_write_items(TransactItems=[put(table, "A", 1), put(table, "D", 4)])
    copied = 0
    original = Item.__deepcopy__

    def counting(self: Any, memo: dict[int, Any]) -> Any:
        nonlocal copied
        copied += 1
        return original(self, memo)

    with monkeypatch.context() as patch:
        patch.setattr(Item, "__deepcopy__", counting)
        cancel(
            db,
            [bump(table, "A"), delete(table, "D"), put(table, "NEW", 9), other_must_be("x")],
        )
    assert everything(db, table)["A"]["n"] == {"N": "1"}
    db.delete_table(TableName=table)
    from infra.local.resources import create_tables

    create_tables(db, aws["env"])
    return copied


def test_rollback_copies_only_the_touched_items_whatever_the_table_size(
    aws: dict[str, Any], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = copies_for_a_cancelled_transaction(aws, db, monkeypatch, 10)
    large = copies_for_a_cancelled_transaction(aws, db, monkeypatch, 600)

    # Snapshots of the two existing items it writes (the new one has none),
    # plus the copy moto's update_item itself takes of the item it updates.
    # Stock moto copies the whole table per transaction item: 4 x 600 here.
    assert small == large == 3


def test_stream_keeps_the_newest_records_and_reads_from_its_trim_horizon(
    aws: dict[str, Any], db: Any
) -> None:
    from infra.local.moto_patches import MAX_STREAM_RECORDS

    table = desk(aws)
    total = MAX_STREAM_RECORDS + 30
    seed(db, table, total)

    records = stream_records(db, table)
    assert len(records) == MAX_STREAM_RECORDS
    assert records[0]["dynamodb"]["Keys"]["pk"] == {"S": "seed-00030"}
    assert records[-1]["dynamodb"]["Keys"]["pk"] == {"S": f"seed-{total - 1:05d}"}
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == list(range(numbers[0], numbers[0] + MAX_STREAM_RECORDS))


def test_copies_and_replaced_items_are_freed(aws: dict[str, Any], db: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    table = desk(aws)
    seed(db, table, 50)
    for n in range(20):
        db.transact_write_items(TransactItems=[put(table, "A", n)])
        db.update_item(
            TableName=table,
            Key=key("A"),
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    gc.collect()

    alive = list(Item.instances_tracked)
    # The 51 stored items, nothing else: no rollback copies, no replaced versions.
    assert len(alive) == len(everything(db, table)) == 51


def test_an_index_query_pages_through_its_partition_only_in_index_order(
    aws: dict[str, Any], db: Any
) -> None:
    table = desk(aws)
    for start in range(0, 90, 25):
        db.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                **key(f"I{i:03d}"),
                                "gsi1pk": {"S": f"P{i % 3}"},
                                "gsi1sk": {"S": f"{(i * 37) % 90:03d}"},
                            }
                        }
                    }
                    for i in range(start, min(start + 25, 90))
                ]
            }
        )
    found: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p AND gsi1sk >= :from",
        "ExpressionAttributeValues": {":p": {"S": "P1"}, ":from": {"S": "010"}},
        "Limit": 7,
    }
    while True:
        page = db.query(**kwargs)
        found += [item["gsi1sk"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    expected = sorted(f"{(i * 37) % 90:03d}" for i in range(90) if i % 3 == 1)
    assert found == [sk for sk in expected if sk >= "010"]

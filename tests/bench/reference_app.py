"""The bench's reference Lambda: one Chalice POST route that stores the JSON body with one PutItem."""

from __future__ import annotations

import json
import os
import uuid
from functools import cache
from typing import Any

import boto3
from chalice.app import Chalice, Response

app = Chalice(app_name="bench-reference")


@cache
def dynamodb() -> Any:
    # Created lazily on the first request and cached, as chalicelib.runtime does.
    return boto3.client("dynamodb")


@app.route("/consultations", methods=["POST"], content_types=["application/json"])
def create_consultation() -> Response:
    data = json.loads(app.current_request.raw_body)
    receipt = uuid.uuid4().hex
    dynamodb().put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={
            "pk": {"S": f"BENCH#{receipt}"},
            "sk": {"S": "CASE"},
            "kind": {"S": "bench"},
            "body": {"S": json.dumps(data, ensure_ascii=False)},
        },
    )
    return Response(
        json.dumps({"receipt_number": receipt}),
        status_code=201,
        headers={"Content-Type": "application/json"},
    )

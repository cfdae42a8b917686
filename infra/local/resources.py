"""Create local and test resources (moto, DynamoDB Local) from infra/resources.yaml."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# The one definition of the resources, shared with `chalice package` (infra/resources.yaml).
TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "resources.yaml"

# Properties of AWS::DynamoDB::Table that CreateTable takes as they are.
_CREATE_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
)


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short-form intrinsics as data."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template; short-form tags become their long form (`{"Ref": ...}`)."""
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)


def tables(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Logical id → resource for every DynamoDB table in the template."""
    template = template or load_template()
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }


def table_setting(resource: dict[str, Any]) -> str:
    """The environment variable that carries this table's name to the code."""
    return str(resource["Metadata"]["dx-desk"]["setting"])


def create_table_kwargs(resource: dict[str, Any], table_name: str) -> dict[str, Any]:
    """CreateTable arguments for one template resource."""
    props = resource["Properties"]
    kwargs: dict[str, Any] = {"TableName": table_name}
    for key in _CREATE_TABLE_KEYS:
        if key in props:
            kwargs[key] = props[key]
    if "StreamSpecification" in kwargs:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **kwargs["StreamSpecification"]}
    return kwargs


def create_tables(
    dynamodb: Any, environ: dict[str, str] | os._Environ[str] = os.environ
) -> dict[str, str]:
    """Create every table of the template (idempotent); returns setting → table name.

    Table names come from the settings named in each table's metadata
    (`TABLE_NAME`, ...), which must be set in `environ`.
    """
    created: dict[str, str] = {}
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for resource in tables().values():
        setting = table_setting(resource)
        name = environ[setting]
        if name not in existing:
            dynamodb.create_table(**create_table_kwargs(resource, name))
            dynamodb.get_waiter("table_exists").wait(TableName=name)
            ttl = resource["Properties"].get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": bool(ttl["Enabled"]),
                    },
                )
        created[setting] = name
    return created


def buckets(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Logical id → resource for every S3 bucket in the template."""
    template = template or load_template()
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket"
    }


def create_buckets(s3: Any, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Create every bucket of the template (idempotent), named by its setting; setting → name."""
    created: dict[str, str] = {}
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for resource in buckets().values():
        setting = table_setting(resource)
        name = environ[setting]
        if name not in existing:
            s3.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name},
            )
        created[setting] = name
    return created


def verify_sender(sesv2: Any, mail_from: str) -> None:
    """Verify the sending domain of `mail_from` (SES rejects unverified senders)."""
    from email.utils import parseaddr

    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    with contextlib.suppress(sesv2.exceptions.AlreadyExistsException):
        sesv2.create_email_identity(EmailIdentity=domain)

"""The deployment package: `make package` bundles the templates and yields a template cfn-lint accepts."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.package


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package")
    subprocess.run(
        ["make", "--no-print-directory", "package", f"OUT={out}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def test_package_contains_every_template(package: Path) -> None:
    names = set(zipfile.ZipFile(package / "deployment.zip").namelist())
    templates = [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*") if p.is_file()
    ]
    assert templates, "no templates found"
    missing = [t for t in templates if f"chalicelib/{t}" not in names]
    assert missing == []
    assert "app.py" in names


def test_package_leaves_the_runtime_provided_libraries_out(package: Path) -> None:
    names = zipfile.ZipFile(package / "deployment.zip").namelist()
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)
    assert any(n.startswith("pydantic_core/") for n in names)


def test_package_build_leaves_the_checkout_clean(package: Path) -> None:
    assert not (ROOT / "chalicelib" / "templates").exists()


def test_merged_template_passes_cfn_lint(package: Path) -> None:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(package / "sam.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _resources(package: Path) -> dict[str, Any]:
    from infra.local import load_template

    return dict(load_template(package / "sam.yaml")["Resources"])


def test_merged_template_has_the_table_stream_trigger_and_table_setting(package: Path) -> None:
    resources = _resources(package)
    assert (
        resources["DeskTable"]["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    )
    assert resources["OutboxStreamMapping"]["Properties"]["EventSourceArn"] == {
        "Fn::GetAtt": ["DeskTable", "StreamArn"]
    }
    assert "OutboxSweep" in resources
    text = (package / "sam.yaml").read_text(encoding="utf-8")
    assert "TABLE_NAME" in text


def test_inbound_mail_path_is_deployable(package: Path) -> None:
    resources = _resources(package)
    bucket = resources["InboundMailBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] > 0
    action = resources["InboundRule"]["Properties"]["Rule"]["Actions"][0]["S3Action"]
    assert action["TopicArn"] == {"Ref": "InboundMailTopic"}
    assert resources["InboundMailSubscription"]["Properties"]["Endpoint"] == {
        "Fn::GetAtt": ["InboundMail", "Arn"]
    }
    assert resources["InboundMail"]["Type"] == "AWS::Serverless::Function"


def test_personal_data_at_rest_uses_the_desks_own_key(package: Path) -> None:
    resources = _resources(package)
    assert resources["DataKey"]["Properties"]["EnableKeyRotation"] is True
    sse = resources["DeskTable"]["Properties"]["SSESpecification"]
    assert sse["SSEType"] == "KMS" and sse["KMSMasterKeyId"] == {"Ref": "DataKey"}
    assert resources["DeskTable"]["Properties"]["PointInTimeRecoverySpecification"][
        "PointInTimeRecoveryEnabled"
    ]
    rule = resources["InboundMailBucket"]["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"


def test_failures_raise_alarms_and_logs_expire(package: Path) -> None:
    resources = _resources(package)
    on_failure = resources["OutboxStreamMapping"]["Properties"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Destination"] == {"Fn::GetAtt": ["OutboxDeadLetterQueue", "Arn"]}
    assert resources["OutboxDeadLetterAlarm"]["Properties"]["Threshold"] == 0
    assert resources["InboundQuarantineAlarm"]["Properties"]["MetricName"] == "InboundQuarantined"
    functions = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    for name in functions:
        group = resources[f"{name}LogGroup"]["Properties"]
        assert group["RetentionInDays"] > 0, name
    throttle = resources["RestAPI"]["Properties"]["MethodSettings"][0]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] > 0

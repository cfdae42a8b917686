"""The deployment package: `make package` bundles the templates and yields a template cfn-lint accepts."""

from __future__ import annotations

import fnmatch
import json
import re
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


def test_package_carries_bytecode_the_runtime_uses_unchecked(package: Path) -> None:
    """Every module of ours (and the vendored libraries) is compiled into the zip, flagged
    "unchecked hash" so the runtime uses it whatever timestamps extraction leaves."""
    import importlib.util
    import sys

    archive = zipfile.ZipFile(package / "deployment.zip")
    names = set(archive.namelist())
    tag = sys.implementation.cache_tag
    sources = [n for n in names if n.endswith(".py") and n.startswith(("app", "chalicelib/"))]
    assert len(sources) > 50
    for source in sources:
        folder, _, name = source.rpartition("/")
        compiled = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"
        assert compiled in names, source
    header = archive.read(f"chalicelib/core/__pycache__/consultation.{tag}.pyc")[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; unchecked means 0b01.
    assert int.from_bytes(header[4:8], "little") == 0b01
    assert any(n.startswith("pydantic/__pycache__/") for n in names)


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
    from infra.local.resources import load_template

    return dict(load_template(package / "sam.yaml")["Resources"])


def test_merged_template_has_the_table_stream_trigger_and_table_setting(package: Path) -> None:
    resources = _resources(package)
    assert (
        resources["DeskTable"]["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    )
    # The table's own stream, unless a restored table is in use (RUNBOOK.md).
    assert resources["OutboxStreamMapping"]["Properties"]["EventSourceArn"]["Fn::If"][2] == {
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


def test_every_function_logs_json_the_api_without_a_library(package: Path) -> None:
    """The API function: Lambda's own JSON log format; the jobs: Powertools, which the zip carries."""
    resources = _resources(package)
    assert resources["APIHandler"]["Properties"]["LoggingConfig"] == {"LogFormat": "JSON"}
    # The job functions keep the text format: Powertools writes their JSON (chalicelib/logs.py).
    for name in ("InboundMail", "SesEvents", "OutboxStream", "OutboxSweep", "DailyMail"):
        assert "LoggingConfig" not in resources[name]["Properties"], name
    names = set(zipfile.ZipFile(package / "deployment.zip").namelist())
    assert "aws_lambda_powertools/logging/logger.py" in names
    assert "aws_lambda_powertools/utilities/data_classes/sns_event.py" in names


def test_api_gateways_own_answers_carry_the_documented_error_body(package: Path) -> None:
    from chalicelib.openapi import ErrorBody

    definition = _resources(package)["RestAPI"]["Properties"]["DefinitionBody"]
    answers = definition["x-amazon-apigateway-gateway-responses"]
    # Chalice's own definition is still there, merged with ours.
    assert definition["paths"] and "x-amazon-apigateway-binary-media-types" in definition
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(answers)
    for kind, answer in answers.items():
        body = ErrorBody.model_validate(json.loads(answer["responseTemplates"]["application/json"]))
        assert any("\u3040" <= ch <= "\u9fff" for ch in body.message), kind  # Japanese first
        assert body.message_en.isascii(), kind
        headers = answer["responseParameters"]
        assert headers["gatewayresponse.header.Strict-Transport-Security"].startswith("'max-age=")
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"


# --- Least-privilege roles: the ARNs in each function's policy resolve to the
# resources the stack creates (and, after a restore, to the restored table).

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


class _Stack:
    """Just enough of CloudFormation to resolve the intrinsics the policies use."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            name: spec.get("Default", "") for name, spec in template["Parameters"].items()
        }
        self.values.update(parameters)
        self.values.update(
            {
                "AWS::AccountId": ACCOUNT,
                "AWS::Region": REGION,
                "AWS::Partition": "aws",
                "AWS::StackName": "dx-desk-prod",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict):
            ((fn, args),) = node.items()
            if fn == "Fn::Equals":
                return self.resolve(args[0]) == self.resolve(args[1])
            if fn == "Fn::Not":
                return not self._condition(args[0])
            if fn == "Fn::Or":
                return any(self._condition(a) for a in args)
            if fn == "Fn::And":
                return all(self._condition(a) for a in args)
            if fn == "Condition":
                return self.condition(args)
        return node

    def ref(self, name: str) -> str:
        if name in self.values:
            return str(self.values[name])
        if name == "DeskTable":
            return str(
                self.resolve(self.template["Resources"]["DeskTable"]["Properties"]["TableName"])
            )
        return f"<{name}>"

    def attribute(self, resource: str, attribute: str) -> str:
        if resource == "DeskTable" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.ref('DeskTable')}"
        if resource == "DeskTable" and attribute == "StreamArn":
            return self.attribute("DeskTable", "Arn") + "/stream/<label>"
        return f"<{resource}.{attribute}>"

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, args),) = node.items()
            if fn == "Ref":
                return self.ref(args)
            if fn == "Fn::GetAtt":
                return self.attribute(*args)
            if fn == "Fn::If":
                return self.resolve(args[1] if self.condition(args[0]) else args[2])
            if fn == "Fn::Sub":
                text, extra = (args, {}) if isinstance(args, str) else args
                extra = {k: self.resolve(v) for k, v in extra.items()}

                def substitute(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name and not name.startswith("AWS::"):
                        return self.attribute(*name.split(".", 1))
                    return self.ref(name)

                return re.sub(r"\$\{([^}]+)\}", substitute, text)
        return {k: self.resolve(v) for k, v in node.items()}


def _template(package: Path) -> dict[str, Any]:
    from infra.local.resources import load_template

    return dict(load_template(package / "sam.yaml"))


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def _policy_of(template: dict[str, Any], function: str) -> dict[str, Any]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    return dict(policy["PolicyDocument"])


def test_the_table_has_a_fixed_name_and_outlives_the_stack(package: Path) -> None:
    template = _template(package)
    table = template["Resources"]["DeskTable"]
    assert _Stack(template, Stage="prod").ref("DeskTable") == "dx-desk-prod"
    assert _Stack(template, Stage="staging").ref("DeskTable") == "dx-desk-staging"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_each_function_runs_with_its_own_role_from_its_own_policy_file(package: Path) -> None:
    template = _template(package)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    files = {name: f["iam_policy_file"] for name, f in config["lambda_functions"].items()}
    roles = set()
    for logical_id, function in _functions(template).items():
        roles.add(function["Properties"]["Role"]["Fn::GetAtt"][0])
        name = "api_handler" if logical_id == "APIHandler" else _snake(logical_id)
        expected = json.loads((ROOT / ".chalice" / files[name]).read_text(encoding="utf-8"))
        assert _policy_of(template, logical_id) == expected, logical_id
    assert len(roles) == len(_functions(template))


def _snake(logical_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()


@pytest.mark.parametrize("restored", [False, True], ids=["desk-table", "restored-table"])
def test_policies_env_and_stream_trigger_name_the_same_table(package: Path, restored: bool) -> None:
    template = _template(package)
    parameters = {"Stage": "prod", "PublicBaseUrl": "https://desk.example.jp/api"}
    if restored:
        parameters |= {
            "RestoredTableName": "dx-desk-prod-restored-20260301",
            "RestoredTableStreamLabel": "2026-03-01T04:05:06.789",
        }
    stack = _Stack(template, **parameters)
    name = parameters.get("RestoredTableName", "dx-desk-prod")
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    env = stack.resolve(template["Globals"]["Function"]["Environment"]["Variables"])
    assert env["TABLE_NAME"] == name
    stream = stack.resolve(
        template["Resources"]["OutboxStreamMapping"]["Properties"]["EventSourceArn"]
    )
    assert stream.startswith(table_arn + "/stream/")
    for function in _functions(template):
        table_resources = [
            resource
            for statement in stack.resolve(_policy_of(template, function))["Statement"]
            if any(a.startswith("dynamodb:") for a in statement["Action"])
            for resource in statement["Resource"]
        ]
        assert table_arn in table_resources, function
        allowed = {table_arn, f"{table_arn}/index/*", f"{table_arn}/stream/*"}
        assert set(table_resources) <= allowed, function


def test_functions_may_read_exactly_the_signing_keys_they_are_told_to(package: Path) -> None:
    template = _template(package)
    stack = _Stack(template, Stage="prod", PublicBaseUrl="https://desk.example.jp/api")
    env = stack.resolve(template["Globals"]["Function"]["Environment"]["Variables"])
    assert env["FORM_SIGNING_KEYS_PARAM"] == "/dx-desk/prod/form-signing-keys"
    assert env["LINK_SIGNING_KEYS_PARAM"] == "/dx-desk/prod/link-signing-keys"
    assert env["PUBLIC_BASE_URL"] == "https://desk.example.jp/api"
    prefix = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    readers = 0
    for function in _functions(template):
        for statement in stack.resolve(_policy_of(template, function))["Statement"]:
            if "ssm:GetParameter" in statement["Action"]:
                readers += 1
                for parameter in (env["FORM_SIGNING_KEYS_PARAM"], env["LINK_SIGNING_KEYS_PARAM"]):
                    assert any(
                        fnmatch.fnmatchcase(prefix + parameter, pattern)
                        for pattern in statement["Resource"]
                    ), function
                assert statement["Resource"] == [f"{prefix}/dx-desk/prod/*"]
    assert readers >= 1
    # Deployed stages carry no keys, and no stage value shadows the template's.
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for name, stage in config["stages"].items():
        if name != "local":
            assert not {
                "FORM_SIGNING_KEYS",
                "LINK_SIGNING_KEYS",
                "FORM_SIGNING_KEYS_PARAM",
                "LINK_SIGNING_KEYS_PARAM",
            } & set(stage["environment_variables"]), name


@pytest.mark.parametrize(
    ("inbound_region", "here"),
    [("", True), (REGION, True), ("us-east-1", False)],
    ids=["default", "same-region", "other-region"],
)
def test_receipt_rules_exist_only_in_a_receiving_region(
    package: Path, inbound_region: str, here: bool
) -> None:
    template = _template(package)
    stack = _Stack(template, Stage="prod", InboundRegion=inbound_region)
    resources = template["Resources"]
    assert resources["InboundRuleSet"]["Condition"] == "ReceiveMailHere"
    assert resources["InboundRule"]["Condition"] == "ReceiveMailHere"
    assert resources["InboundMailWriterRole"]["Condition"] == "ReceiveMailElsewhere"
    assert stack.condition("ReceiveMailHere") is here
    assert stack.condition("ReceiveMailElsewhere") is not here
    mx = stack.resolve(template["Outputs"]["InboundMxRecord"]["Value"])
    assert mx == f"10 inbound-smtp.{inbound_region or REGION}.amazonaws.com"


def test_ses_sending_events_reach_their_handler(package: Path) -> None:
    resources = _resources(package)
    config_set = resources["MailConfigurationSet"]
    assert config_set["Type"] == "AWS::SES::ConfigurationSet"
    destination = resources["MailEventDestination"]
    assert destination["Type"] == "AWS::SES::ConfigurationSetEventDestination"
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "MailConfigurationSet"}
    event_destination = destination["Properties"]["EventDestination"]
    assert event_destination["Enabled"] is True
    assert {"bounce", "complaint", "delivery", "reject"} <= set(
        event_destination["MatchingEventTypes"]
    )
    assert event_destination["SnsDestination"]["TopicARN"] == {"Ref": "SesEventsTopic"}
    assert resources["SesEventsTopic"]["Type"] == "AWS::SNS::Topic"
    # SES may publish to the topic, only for this account's configuration set.
    (statement,) = resources["SesEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    subscription = resources["SesEventsSubscription"]["Properties"]
    assert subscription["TopicArn"] == {"Ref": "SesEventsTopic"}
    assert subscription["Protocol"] == "lambda"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["SesEvents", "Arn"]}
    assert resources["SesEvents"]["Type"] == "AWS::Serverless::Function"
    assert resources["SesEvents"]["Properties"]["Handler"].endswith("ses_events.ses_events")
    assert resources["SesEventsInvokePermission"]["Properties"]["SourceArn"] == {
        "Ref": "SesEventsTopic"
    }
    assert resources["SesEventsLogGroup"]["Properties"]["RetentionInDays"] == 90
    # Every function sends with the configuration set.
    from infra.local.resources import load_template

    variables = load_template(package / "sam.yaml")["Globals"]["Function"]["Environment"]
    assert variables["Variables"]["SES_CONFIGURATION_SET"] == {"Ref": "MailConfigurationSet"}


# --- Failures reach someone: asynchronous events are parked, never dropped, and
# every alarm notifies the alarm topic (infra/RUNBOOK.md, "Alarms").


def _invoked_asynchronously(template: dict[str, Any]) -> set[str]:
    """Functions that an SNS topic or an EventBridge schedule invokes (asynchronous invocations)."""
    found = {
        name
        for name, function in _functions(template).items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] in {"Schedule", "SNS", "CloudWatchEvent", "EventBridgeRule"}
    }
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SNS::Subscription" and properties["Protocol"] == "lambda":
            found.add(properties["Endpoint"]["Fn::GetAtt"][0])
    return found


def _send_message_resources(template: dict[str, Any], function: str) -> list[Any]:
    return [
        resource
        for statement in _policy_of(template, function)["Statement"]
        if "sqs:SendMessage" in statement["Action"]
        for resource in statement["Resource"]
    ]


def test_asynchronous_functions_park_failed_events_in_a_dead_letter_queue(package: Path) -> None:
    template = _template(package)
    resources = template["Resources"]
    queue = {"Fn::GetAtt": ["AsyncDeadLetterQueue", "Arn"]}
    configs = {
        r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    # Every function invoked asynchronously has one, and only those.
    assert set(configs) == _invoked_asynchronously(template)
    assert set(configs) == {"InboundMail", "SesEvents", "OutboxSweep", "DailyMail"}
    assert len(configs) == sum(
        r["Type"] == "AWS::Lambda::EventInvokeConfig" for r in resources.values()
    )
    for function, config in configs.items():
        assert resources[function]["Type"] == "AWS::Serverless::Function", function
        assert config["Qualifier"] == "$LATEST", function
        assert config["MaximumRetryAttempts"] == 2, function
        assert 60 <= config["MaximumEventAgeInSeconds"] <= 21600, function
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue, function
        # Lambda sends the failed event with the function's own role.
        assert _send_message_resources(template, function) == [queue], function
    # Functions without an on-failure destination may send to no queue.
    stream_consumers = {
        r["Properties"]["FunctionName"]["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and "DestinationConfig" in r["Properties"]
    }
    assert stream_consumers == {"OutboxStream"}
    for function in set(_functions(template)) - set(configs) - stream_consumers:
        assert _send_message_resources(template, function) == [], function
    # Kept 14 days, encrypted like the outbox queue, watched like it.
    properties = resources["AsyncDeadLetterQueue"]["Properties"]
    assert properties["MessageRetentionPeriod"] == 1209600
    assert (
        properties["KmsMasterKeyId"]
        == resources["OutboxDeadLetterQueue"]["Properties"]["KmsMasterKeyId"]
        == "alias/aws/sqs"
    )
    alarm = resources["AsyncDeadLetterAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AsyncDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_alarm_notifies_the_alarm_topic(package: Path) -> None:
    template = _template(package)
    resources = template["Resources"]
    topic = {"Ref": "AlarmTopic"}
    alarms = {n: r for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"OutboxDeadLetterAlarm", "AsyncDeadLetterAlarm", "InboundQuarantineAlarm"} <= set(
        alarms
    )
    for name, alarm in alarms.items():
        assert topic in alarm["Properties"].get("AlarmActions", []), name
        assert topic in alarm["Properties"].get("OKActions", []), name
        assert alarm["Properties"].get("ActionsEnabled", True) is True, name
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == topic


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(package: Path) -> None:
    """The AWS managed SNS key refuses CloudWatch: the desk's key allows it, for this topic only."""
    template = _template(package)
    resources = template["Resources"]
    stack = _Stack(template, Stage="prod", PublicBaseUrl="https://desk.example.jp/api")
    properties = resources["AlarmTopic"]["Properties"]
    assert properties["KmsMasterKeyId"] == {"Ref": "DataKey"}
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:" + stack.resolve(properties["TopicName"])
    statements = resources["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    (statement,) = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert stack.resolve(statement["Condition"]) == {
        "StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}
    }


@pytest.mark.parametrize("address", ["", "oncall@example.jp"], ids=["no-address", "address"])
def test_alarm_mail_is_subscribed_only_when_an_address_is_given(
    package: Path, address: str
) -> None:
    template = _template(package)
    parameter = template["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], address)
    assert not re.fullmatch(parameter["AllowedPattern"], "not an address")
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    stack = _Stack(template, Stage="prod", AlarmEmail=address)
    assert stack.condition("HasAlarmEmail") is bool(address)


@pytest.mark.parametrize("domain", ["", "dx.pref.example.jp"])
def test_the_sending_identity_signs_aligns_and_uses_the_configuration_set(
    package: Path, domain: str
) -> None:
    template = _template(package)
    parameter = template["Parameters"]["MailDomain"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], domain)
    for wrong in ("Example.JP", "desk@example.jp", "example", "-x.example.jp"):
        assert not re.fullmatch(parameter["AllowedPattern"], wrong), wrong
    identity = template["Resources"]["MailIdentity"]
    assert identity["Type"] == "AWS::SES::EmailIdentity"
    assert identity["Condition"] == "HasMailDomain"
    properties = identity["Properties"]
    assert properties["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    assert properties["DkimAttributes"] == {"SigningEnabled": True}
    assert properties["ConfigurationSetAttributes"] == {
        "ConfigurationSetName": {"Ref": "MailConfigurationSet"}
    }
    assert properties["FeedbackAttributes"] == {"EmailForwardingEnabled": False}
    stack = _Stack(template, Stage="prod", MailDomain=domain)
    assert stack.condition("HasMailDomain") is bool(domain)
    if domain:
        assert stack.resolve(properties["EmailIdentity"]) == domain
        mail_from = stack.resolve(properties["MailFromAttributes"]["MailFromDomain"])
        assert mail_from == f"bounce.{domain}"
    outputs = template["Outputs"]
    assert outputs["MailDkimRecords"]["Condition"] == "HasMailDomain"
    assert outputs["MailFromRecords"]["Condition"] == "HasMailDomain"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_deploy_packages_uploads_and_deploys_one_stage() -> None:
    result = _make("-n", "deploy", "STAGE=prod", "DEPLOY_BUCKET=example-artifacts")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "chalice package" in out and "--stage prod" in out
    assert "aws cloudformation package" in out and "--s3-bucket example-artifacts" in out
    assert "--stack-name dx-desk-prod" in out
    assert "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in out
    assert "--parameter-overrides Stage=prod" in out


def test_make_deploy_without_an_artefact_bucket_stops_before_anything_runs() -> None:
    result = _make("deploy", "STAGE=prod")
    assert result.returncode != 0
    assert "DEPLOY_BUCKET" in result.stdout + result.stderr
    assert "chalice" not in result.stdout


def test_a_python_312_package_gets_snapstart_and_still_passes_cfn_lint(
    package: Path, tmp_path: Path
) -> None:
    """Packaged from Python 3.11 the runtime has no SnapStart and the template is left alone;
    the same template on python3.12 gets SnapStart on the API function, API Gateway calling
    its alias, and cfn-lint accepts it."""
    import yaml

    from infra import snapstart

    packaged = (package / "sam.yaml").read_text(encoding="utf-8")
    assert "SnapStart" not in packaged and "python3.11" in packaged
    on_312 = tmp_path / "sam.yaml"
    on_312.write_text(packaged.replace("Runtime: python3.11", "Runtime: python3.12"), "utf-8")
    assert snapstart.main([str(on_312)]) == 0
    template = yaml.safe_load(on_312.read_text(encoding="utf-8"))
    api = template["Resources"]["APIHandler"]["Properties"]
    assert api["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert api["AutoPublishAlias"] == "live"
    text = on_312.read_text(encoding="utf-8")
    assert "${APIHandler.Arn}" not in text and "${APIHandlerAliaslive}" in text
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), str(on_312)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""SnapStart: the template transform for the API function, and what a restore renews."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from chalicelib import runtime
from infra import snapstart


def template(runtime_name: str) -> dict[str, Any]:
    uri = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/functions/${APIHandler.Arn}/invocations"
    return {
        "Resources": {
            "APIHandler": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Runtime": runtime_name, "Handler": "app.app"},
            },
            "OutboxStream": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Runtime": runtime_name},
            },
            "RestAPI": {
                "Properties": {
                    "DefinitionBody": {
                        "paths": {
                            "/consultations": {
                                "post": {
                                    "x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri}}
                                }
                            }
                        }
                    }
                }
            },
            "APIHandlerInvokePermission": {
                "Properties": {
                    "FunctionName": {"Ref": "APIHandler"},
                    "Action": "lambda:InvokeFunction",
                }
            },
        },
        "Outputs": {"APIHandlerArn": {"Value": {"Fn::GetAtt": ["APIHandler", "Arn"]}}},
    }


def test_snapstart_goes_on_the_api_function_and_api_gateway_calls_its_alias() -> None:
    found = snapstart.with_snapstart(template("python3.12"))
    resources = found["Resources"]
    api = resources["APIHandler"]["Properties"]
    assert (
        api["SnapStart"] == {"ApplyOn": "PublishedVersions"} and api["AutoPublishAlias"] == "live"
    )
    # Only the API function: the job functions are not invoked through the alias.
    assert "SnapStart" not in resources["OutboxStream"]["Properties"]
    integration = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/consultations"]
    uri = integration["post"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    assert "${APIHandlerAliaslive}" in uri and "${APIHandler.Arn}" not in uri
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}
    assert found["Outputs"]["APIHandlerArn"]["Value"] == {"Ref": "APIHandlerAliaslive"}


def test_a_runtime_before_312_leaves_the_template_as_it_is(tmp_path: Path, capsys: Any) -> None:
    import yaml

    path = tmp_path / "sam.yaml"
    text = yaml.safe_dump(template("python3.11"))
    path.write_text(text, encoding="utf-8")
    assert snapstart.main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == text
    assert "python3.11" in capsys.readouterr().out
    assert snapstart.runtime_of(template("python3.13")) == (3, 13)


def test_a_restore_renews_clients_parameters_and_the_random_state(aws: dict[str, Any]) -> None:
    runtime.dynamodb()
    assert runtime.dynamodb.cache_info().currsize == 1
    # Two environments restored from one snapshot hold the same `random` state ...
    random.seed(12345)
    snapshot_state = random.getstate()
    runtime.after_restore()
    # ... which the hook replaces; the clients are built anew on next use.
    assert random.getstate() != snapshot_state
    assert runtime.dynamodb.cache_info().currsize == 0


def test_the_restore_hook_is_registered_with_the_runtimes_hook_module() -> None:
    registered: list[Any] = []

    class Hooks:
        @staticmethod
        def register_after_restore(hook: Any) -> None:
            registered.append(hook)

    runtime.register_restore_hook(Hooks)
    assert registered == [runtime.after_restore]

"""Lambda SnapStart for the API function in the packaged template, where its runtime allows it.

SnapStart for Python needs python3.12 or later and restores only published
versions. Where the API function's runtime allows it, this adds to APIHandler
`AutoPublishAlias: live` (SAM publishes a version on every deploy and moves
the alias to it) and `SnapStart: {ApplyOn: PublishedVersions}`, and points
API Gateway's integrations, its invoke permission and the `APIHandlerArn`
output at the alias: an unqualified invocation runs $LATEST, which never
restores from a snapshot.

`chalice package` takes the functions' runtime from the Python it runs under.
Packaged from the project's Python 3.11 virtualenv the runtime is python3.11,
where SnapStart does not exist: this then says so and leaves the template as
it is. Packaging from a Python 3.12 or 3.13 virtualenv gives python3.12/3.13
and a template with SnapStart (infra/DEPLOY.md "SnapStart"; its caveats in
docs/operations.md).

Usage: python -m infra.snapstart build/sam.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

FUNCTION = "APIHandler"
ALIAS = "live"
PERMISSION = "APIHandlerInvokePermission"
# What chalice writes into every API Gateway integration URI, and the alias SAM creates for
# AutoPublishAlias (logical id <function>Alias<name>; its Ref is the alias's ARN).
UNQUALIFIED = "${APIHandler.Arn}"
ALIAS_RESOURCE = f"{FUNCTION}Alias{ALIAS}"
QUALIFIED = "${" + ALIAS_RESOURCE + "}"
MIN_RUNTIME = (3, 12)


def runtime_of(template: dict[str, Any], function: str = FUNCTION) -> tuple[int, int] | None:
    """(major, minor) of a python runtime, or None when the function has another one."""
    runtime = str(template["Resources"][function]["Properties"].get("Runtime", ""))
    if not runtime.startswith("python"):
        return None
    major, _, minor = runtime.removeprefix("python").partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def _to_alias(node: Any) -> Any:
    """`node` with every unqualified reference to the API function's ARN made the alias's."""
    if isinstance(node, dict):
        return {key: _to_alias(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_to_alias(value) for value in node]
    if isinstance(node, str):
        return node.replace(UNQUALIFIED, QUALIFIED)
    return node


def with_snapstart(template: dict[str, Any]) -> dict[str, Any]:
    """The template with SnapStart on the API function and API Gateway calling its alias."""
    resources = dict(template["Resources"])
    function = dict(resources[FUNCTION])
    function["Properties"] = {
        **function["Properties"],
        "AutoPublishAlias": ALIAS,
        "SnapStart": {"ApplyOn": "PublishedVersions"},
    }
    resources[FUNCTION] = function
    resources["RestAPI"] = _to_alias(resources["RestAPI"])
    permission = dict(resources[PERMISSION])
    permission["Properties"] = {
        **permission["Properties"],
        "FunctionName": {"Ref": ALIAS_RESOURCE},
    }
    resources[PERMISSION] = permission
    found = {**template, "Resources": resources}
    outputs = dict(template.get("Outputs") or {})
    if f"{FUNCTION}Arn" in outputs:
        outputs[f"{FUNCTION}Arn"] = {
            **outputs[f"{FUNCTION}Arn"],
            "Value": {"Ref": ALIAS_RESOURCE},
        }
        found["Outputs"] = outputs
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    path = Path(argv[0])
    template = yaml.safe_load(path.read_text(encoding="utf-8"))
    runtime = runtime_of(template)
    if runtime is None or runtime < MIN_RUNTIME:
        shown = "unknown" if runtime is None else f"python{runtime[0]}.{runtime[1]}"
        print(
            f"SnapStart left out: the API function's runtime is {shown}; SnapStart for Python "
            "needs python3.12 or later (package from a Python 3.12+ virtualenv)"
        )
        return 0
    path.write_text(
        yaml.safe_dump(with_snapstart(template), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    print(f"SnapStart on {FUNCTION} (python{runtime[0]}.{runtime[1]}), API Gateway calls :{ALIAS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The shape of the code: thin app.py, dependencies pointing one way, nothing built at import."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHALICELIB = ROOT / "chalicelib"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules_in(folder: str) -> list[Path]:
    return sorted((CHALICELIB / folder).glob("*.py"))


# package → top-level modules it must not import (directly or lazily)
FORBIDDEN = {
    "domain": (
        "boto3",
        "botocore",
        "chalice",
        "jinja2",
        "chalicelib.stores",
        "chalicelib.services",
        "chalicelib.api",
        "chalicelib.jobs",
        "chalicelib.deps",
        "os",
    ),
    "services": (
        "boto3",
        "botocore",
        "chalice",
        "chalicelib.stores",
        "chalicelib.api",
        "chalicelib.jobs",
        "chalicelib.deps",
    ),
    "stores": ("chalice", "chalicelib.services", "chalicelib.api", "chalicelib.jobs"),
    "web": (
        "boto3",
        "botocore",
        "chalice",
        "chalicelib.stores",
        "chalicelib.services",
        "chalicelib.api",
        "chalicelib.jobs",
        "chalicelib.deps",
    ),
    "mail": (
        "chalice",
        "chalicelib.stores",
        "chalicelib.services",
        "chalicelib.api",
        "chalicelib.jobs",
    ),
}


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_dependencies_point_one_way(folder: str) -> None:
    offenders = []
    for path in modules_in(folder):
        for name in imported_modules(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[folder]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_app_py_only_creates_the_app_and_registers_blueprints() -> None:
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef), node
    calls = [
        node.value.func.attr
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
    ]
    assert set(calls) <= {"register_blueprint", "setLevel"}


def test_importing_the_app_builds_no_client_and_loads_no_renderer() -> None:
    script = (
        "import sys, app\n"
        "from chalicelib import deps\n"
        "assert deps.dynamodb.cache_info().currsize == 0\n"
        "assert deps.sesv2.cache_info().currsize == 0\n"
        "print('jinja2' in sys.modules, 'email_validator' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": ""},
    )
    assert result.stdout.split() == ["False", "False"]


def _requirement_names(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", line)
        assert match, line
        found[match.group(1).lower().replace("_", "-")] = match.group(2).replace(" ", "")
    return found


# Chalice bundles its own runtime into the package; Lambda provides boto3.
PROVIDED_AT_RUNTIME = {"chalice", "boto3"}


def test_requirements_txt_matches_pyproject_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        name: spec
        for name, spec in _requirement_names(project["dependencies"]).items()
        if name not in PROVIDED_AT_RUNTIME
    }
    chalice_reads = _requirement_names(
        (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    )
    assert chalice_reads == declared


def test_every_setting_the_code_reads_is_documented_in_the_readme() -> None:
    from chalicelib.config import _ENV

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _ENV if f"`{name}`" not in readme]
    assert missing == []


def test_stage_config_is_valid_json_with_a_local_stage() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert config["autogen_policy"] is False
    assert "local" in config["stages"]


def test_no_scan_anywhere_in_the_application() -> None:
    """Request paths query keys and indexes; a Scan would read every case."""
    offenders = []
    for path in CHALICELIB.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"scan", "parallel_scan"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_iam_policy_allows_every_dynamodb_operation_the_code_calls() -> None:
    calls = set()
    for path in (CHALICELIB / "stores").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "_client"
            ):
                calls.add(node.func.attr)
    policy = json.loads((ROOT / ".chalice" / "policy.json").read_text(encoding="utf-8"))
    allowed = {a for s in policy["Statement"] for a in s["Action"] if a.startswith("dynamodb:")}
    # TransactWriteItems is authorised per item: Put/Update/ConditionCheck.
    needed = {
        "dynamodb:" + "".join(part.title() for part in call.split("_"))
        for call in calls
        if call != "transact_write_items"
    }
    assert calls, "no DynamoDB calls found: the check itself is broken"
    assert needed <= allowed, sorted(needed - allowed)

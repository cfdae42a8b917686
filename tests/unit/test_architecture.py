"""The shape of the code: thin app.py, dependencies pointing one way, nothing built at import."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

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


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# The layers, lowest first, stated once (README's layer sentence says the same:
# tests/unit/test_readme.py). A module may import only from its own layer and
# the layers below it; the features (one folder each) never import one another. Every module of chalicelib must
# fall in exactly one layer: a new folder has to be placed here first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("chalicelib.core",)),
    ("adapters", ("chalicelib.storage", "chalicelib.templating")),
    ("runtime", ("chalicelib.runtime", "chalicelib.logs")),
    ("http", ("chalicelib.http",)),
    (
        "features",
        (
            "chalicelib.intake",
            "chalicelib.links",
            "chalicelib.mailin",
            "chalicelib.outbox",
            "chalicelib.admin",
            "chalicelib.scheduled",
            "chalicelib.requester",
            "chalicelib.survey",
            "chalicelib.console",
        ),
    ),
    ("top", ("app", "chalicelib.openapi")),
)
FEATURES = dict(LAYERS)["features"]
# Pure code: what core may not import, directly or lazily (I/O, the web framework).
CORE_FORBIDDEN = ("boto3", "botocore", "chalice", "jinja2", "urllib.request", "socket")


def place(module: str) -> tuple[int, str] | None:
    """(layer number, the feature or layer prefix) of a module of the application."""
    found = None
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                found is None or len(prefix) > len(found[1])
            ):
                found = (number, prefix)
    return found


@cache
def import_graph() -> dict[str, set[str]]:
    """module → the application modules it imports (at top level or inside functions)."""
    # The package's own empty __init__ holds nothing to place.
    paths = [ROOT / "app.py", *sorted(CHALICELIB.rglob("*.py"))]
    paths = [path for path in paths if path != CHALICELIB / "__init__.py"]
    known = {module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        found = set()
        for name in imported_modules(path):
            # `from chalicelib.core import case` names the module chalicelib.core.case.
            candidates = [name, *(f"{name}.{alias}" for alias in _imported_names(path, name))]
            found |= {candidate for candidate in candidates if candidate in known}
        graph[module_name(path)] = found - {module_name(path)}
    return graph


@cache
def _imported_names(path: Path, module: str) -> tuple[str, ...]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return tuple(
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    )


def test_every_module_has_a_layer() -> None:
    assert [module for module in import_graph() if place(module) is None] == []


def test_dependencies_point_down_and_features_stay_apart() -> None:
    offenders = []
    for module, imported in import_graph().items():
        layer, home = place(module)  # type: ignore[misc]
        for target in imported:
            target_layer, target_home = place(target)  # type: ignore[misc]
            if target_layer > layer:
                offenders.append(f"{module} imports {target} (a higher layer)")
            elif target_layer == layer and home in FEATURES and target_home != home:
                offenders.append(f"{module} imports {target} (another feature)")
    assert sorted(offenders) == []


def test_no_import_circles_even_through_several_modules() -> None:
    """Transitive: a circle through any number of modules fails (Tarjan's components)."""
    circles = strongly_connected(import_graph())
    assert [sorted(circle) for circle in circles if len(circle) > 1] == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_check_finds_a_circle_of_three() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [c for c in strongly_connected(graph) if len(c) > 1] == [{"a", "b", "c"}]


def test_core_is_pure() -> None:
    offenders = []
    for path in sorted((CHALICELIB / "core").rglob("*.py")):
        for name in imported_modules(path):
            if any(name == bad or name.startswith(bad + ".") for bad in CORE_FORBIDDEN):
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
    # append: one binary media type (app.api.binary_types) for the console's CSV upload;
    # disable/freeze/enable: no garbage collection while the modules load (cold start).
    assert set(calls) <= {"register_blueprint", "setLevel", "append", "disable", "freeze", "enable"}


def test_importing_the_app_builds_no_client_and_loads_no_renderer() -> None:
    script = (
        "import sys, app\n"
        "from chalicelib import runtime\n"
        "assert runtime.dynamodb.cache_info().currsize == 0\n"
        "assert runtime.sesv2.cache_info().currsize == 0\n"
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


def settings_table(text: str) -> set[str]:
    """The variables named in the first column of the table under "## Settings"."""
    found = re.search(r"^## Settings\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    section = found.group(1) if found else ""
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_every_setting_the_code_reads_is_in_the_settings_table_of_operations() -> None:
    from chalicelib.core.settings import VARIABLES

    documented = settings_table((ROOT / "docs" / "operations.md").read_text(encoding="utf-8"))
    assert [name for name in VARIABLES if name not in documented] == []


def test_settings_table_reads_only_the_table_rows_of_its_section() -> None:
    text = (
        "## Settings\n\n| variable | default |\n|---|---|\n| `TABLE_NAME` | required |\n"
        "`MAIL_FROM` in prose\n\n## Retention\n\n| `CASE_RETENTION_DAYS` | x |\n"
    )
    assert settings_table(text) == {"TABLE_NAME"}
    assert settings_table("## Configuration\n\n| `TABLE_NAME` | required |\n") == set()


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


# ---------------------------------------------------------------------------
# IAM: each Lambda function's policy allows exactly what the code it runs calls.
#
# A small static analysis by name (in the spirit of rapid type analysis): from
# a function's handlers, follow every name the code references (functions,
# classes, module-level values; across imports, including imports inside
# functions). A method is reached when its class is referenced somewhere
# reached and its name is used as an attribute somewhere reached. AWS calls are
# `self._client.<op>(...)` in a class runtime.py builds with a client, and
# `<client factory>().<op>(...)`. Reaching too much only asks the policy for a
# grant the code might use; type annotations are skipped (they run nothing).
# ---------------------------------------------------------------------------

# ("function", module, name), ("class", ...), ("value", ...), ("method", m, class, name), ("module", m)
Ref = tuple[str, ...]


@dataclass
class _Module:
    name: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)
    functions: dict[str, ast.AST] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    values: dict[str, ast.AST] = field(default_factory=dict)


_module_name = module_name


@cache
def _code_index() -> dict[str, _Module]:
    index = {}
    for path in [ROOT / "app.py", *sorted(CHALICELIB.rglob("*.py"))]:
        module = _Module(_module_name(path), ast.parse(path.read_text(encoding="utf-8")))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    module.imports[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                module.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                module.classes[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        module.values[target.id] = node.value
        index[module.name] = module
    return index


def _lookup(qualified: str) -> Ref | None:
    index = _code_index()
    if qualified in index:
        return ("module", qualified)
    module_name, _, name = qualified.rpartition(".")
    module = index.get(module_name)
    if module is None:
        return None
    if name in module.functions:
        return ("function", module_name, name)
    if name in module.classes:
        return ("class", module_name, name)
    if name in module.values:
        return ("value", module_name, name)
    if name in module.imports:  # re-exported
        return _lookup(module.imports[name])
    return None


def _resolve(module: _Module, expr: ast.AST) -> Ref | None:
    """What a name or a dotted name means in `module` (None: local, builtin or third-party)."""
    if isinstance(expr, ast.Name):
        if expr.id in module.functions:
            return ("function", module.name, expr.id)
        if expr.id in module.classes:
            return ("class", module.name, expr.id)
        if expr.id in module.values:
            return ("value", module.name, expr.id)
        if expr.id in module.imports:
            return _lookup(module.imports[expr.id])
        return None
    if isinstance(expr, ast.Attribute):
        base = _resolve(module, expr.value)
        if base is not None and base[0] == "module":
            return _lookup(f"{base[1]}.{expr.attr}")
    return None


def _nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under `node` except type annotations."""
    yield node
    for name, value in ast.iter_fields(node):
        if name in {"annotation", "returns", "type_comment"}:
            continue
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, ast.AST):
                yield from _nodes(child)


def _client_factories() -> dict[Ref, str]:
    """runtime.py functions that build a boto3 client → the client's service."""
    deps = _code_index()["chalicelib.runtime"]
    found = {}
    for name, node in deps.functions.items():
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "client"
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == "boto3"
                and sub.args
                and isinstance(sub.args[0], ast.Constant)
            ):
                found[("function", deps.name, name)] = str(sub.args[0].value)
    return found


def _client_bindings(factories: dict[Ref, str]) -> dict[Ref, str]:
    """Classes runtime.py builds with a client as first argument → that client's service."""
    deps = _code_index()["chalicelib.runtime"]
    bound = {}
    for sub in ast.walk(deps.tree):
        if isinstance(sub, ast.Call) and sub.args and isinstance(sub.args[0], ast.Call):
            cls = _resolve(deps, sub.func)
            factory = _resolve(deps, sub.args[0].func)
            if cls and cls[0] == "class" and factory in factories:
                bound[cls] = factories[factory]
    return bound


TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


@dataclass
class _Reach:
    operations: dict[str, set[str]]  # service → operations called
    transact_kinds: set[str]  # Put / Update / ... inside TransactWriteItems
    unresolved: set[str]  # `module.name` references the analysis could not follow


# Helpers in chalicelib/storage/dynamo.py that make a call on the client they are given.
CLIENT_HELPERS: dict[Ref, str] = {
    ("function", "chalicelib.storage.dynamo", "query_all"): "query",
    ("function", "chalicelib.storage.dynamo", "transact"): "transact_write_items",
}


def _is_self_client(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "_client"
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


# Ports of core that the runtime plugs an AWS-calling function into at import:
# reaching the port's caller reaches the plugged function (and its calls).
PLUGGED: dict[Ref, Ref] = {
    ("method", "chalicelib.core.settings", "ParameterCache", "get"): (
        "function",
        "chalicelib.runtime",
        "read_parameter",
    ),
}


def test_the_plugged_ports_are_what_the_runtime_plugs() -> None:
    """PLUGGED holds only because runtime.py says so at import: check that it does."""
    runtime = _code_index()["chalicelib.runtime"]
    plugged = [
        (statement.value.func.attr, statement.value.args[0].id)
        for statement in runtime.tree.body
        if isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.args
        and isinstance(statement.value.args[0], ast.Name)
    ]
    assert plugged == [("use_parameter_source", "read_parameter")]


def test_client_helpers_are_all_known() -> None:
    """Every function of storage/dynamo.py that calls a method on a client it is given is
    listed in CLIENT_HELPERS, so the IAM analysis sees the calls it makes."""
    tree = ast.parse((ROOT / "chalicelib" / "storage" / "dynamo.py").read_text(encoding="utf-8"))
    calling = set()
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef) or not function.args.args:
            continue
        first = function.args.args[0].arg
        for sub in ast.walk(function):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and isinstance(sub.func.value, ast.Name)
                and sub.func.value.id == first
                and first == "client"
            ):
                calling.add(("function", "chalicelib.storage.dynamo", function.name))
    assert calling == set(CLIENT_HELPERS)


def _reached_aws_calls(entries: list[Ref]) -> _Reach:
    """What the code reachable from `entries` calls on AWS."""
    index = _code_index()
    factories = _client_factories()
    bindings = _client_bindings(factories)
    reached: set[Ref] = set()
    live_classes: set[Ref] = set()
    attributes: set[str] = set()
    operations: dict[str, set[str]] = {}
    transact_kinds: set[str] = set()
    unresolved: set[str] = set()
    pending: list[tuple[Ref, ast.AST, Ref | None]] = []

    def reach(ref: Ref | None) -> None:
        if ref is None or ref in reached or ref[0] == "module":
            return
        reached.add(ref)
        module = index[ref[1]]
        if ref in PLUGGED:
            # A call through a port the runtime plugs in reaches what it plugs.
            reach(PLUGGED[ref])
        if ref[0] == "function":
            pending.append((ref, module.functions[ref[2]], None))
        elif ref[0] == "value":
            pending.append((ref, module.values[ref[2]], None))
        elif ref[0] == "class":
            live_classes.add(ref)
            node = module.classes[ref[2]]
            for part in [*node.bases, *node.decorator_list]:
                pending.append((ref, part, None))
            for statement in node.body:
                if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                    pending.append((ref, statement, ref))
        elif ref[0] == "method":
            cls: Ref = ("class", ref[1], ref[2])
            method = next(
                n
                for n in index[ref[1]].classes[ref[2]].body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == ref[3]
            )
            pending.append((ref, method, cls))

    def visit(ref: Ref, node: ast.AST, cls: Ref | None) -> None:
        module = index[ref[1]]
        for sub in _nodes(node):
            if isinstance(sub, ast.Name | ast.Attribute):
                reach(_resolve(module, sub))
            if isinstance(sub, ast.Attribute):
                attributes.add(sub.attr)
                base = _resolve(module, sub.value)
                if base and base[0] == "module" and _resolve(module, sub) is None:
                    unresolved.add(f"{base[1]}.{sub.attr}")
            if isinstance(sub, ast.Dict) and module.name.startswith("chalicelib.storage"):
                transact_kinds.update(
                    k.value
                    for k in sub.keys
                    if isinstance(k, ast.Constant) and k.value in TRANSACT_ITEM_ACTIONS
                )
            if (
                isinstance(sub, ast.Call)
                and cls in bindings
                and sub.args
                and _is_self_client(sub.args[0])
                and _resolve(module, sub.func) in CLIENT_HELPERS
            ):
                # A shared helper handed this store's client makes the call for it.
                helper = _resolve(module, sub.func)
                operations.setdefault(bindings[cls], set()).add(CLIENT_HELPERS[helper])  # type: ignore[index]
            if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)):
                continue
            target = sub.func.value
            service = None
            if (
                cls in bindings
                and isinstance(target, ast.Attribute)
                and target.attr == "_client"
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                service = bindings[cls]
            elif isinstance(target, ast.Call):
                service = factories.get(_resolve(module, target.func))  # type: ignore[arg-type]
            if service:
                operations.setdefault(service, set()).add(sub.func.attr)

    for entry in entries:
        reach(entry)
    while pending:
        while pending:
            visit(*pending.pop())
        for cls in list(live_classes):
            for node in index[cls[1]].classes[cls[2]].body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    node.name in attributes or node.name.startswith("__")
                ):
                    reach(("method", cls[1], cls[2], node.name))
    if "transact_write_items" not in operations.get("dynamodb", set()):
        transact_kinds = set()
    return _Reach(operations, transact_kinds, unresolved)


def _lambda_functions() -> dict[str, list[Ref]]:
    """Every Lambda function the app deploys → the code it starts from."""
    from app import app

    def ref_of(handler_string: str) -> Ref:
        ref = _lookup(handler_string)
        assert ref is not None and ref[0] == "function", handler_string
        return ref

    # The API function runs every route, and whatever wraps the views: start
    # from every function and method of the modules that hold that code.
    route_modules = set()
    for methods in app.routes.values():
        for entry in methods.values():
            view = entry.view_function
            route_modules.add(view.__module__)
            route_modules.add(_module_name(Path(view.__code__.co_filename)))
    index = _code_index()
    api: list[Ref] = []
    for name in sorted(route_modules):
        api += [("function", name, f) for f in index[name].functions]
        api += [("class", name, c) for c in index[name].classes]
    functions = {"api_handler": api}
    for function in app.pure_lambda_functions:
        functions[function.name] = [ref_of(function.handler_string)]
    for source in app.event_sources:
        functions[source.name] = [ref_of(source.handler_string)]
    for authorizer in app.builtin_auth_handlers:
        functions[authorizer.name] = [ref_of(authorizer.handler_string)]
    return functions


def _iam_actions(service: str, operation: str) -> set[str]:
    camel = "".join(part.title() for part in operation.split("_"))
    if service == "sesv2" and operation == "send_email":
        # SES v2 SendEmail is authorised as ses:SendEmail, and as
        # ses:SendRawEmail for raw content (what the mailer sends).
        return {"ses:SendEmail", "ses:SendRawEmail"}
    prefix = {"sesv2": "ses"}.get(service, service)
    return {f"{prefix}:{camel}"}


# The stream consumer reads the table's stream (OutboxStreamMapping in infra/resources.yaml).
STREAM_CONSUMER_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
# Lambda parks what a function failed to process in the function's on-failure
# queue, with the function's own role: failed stream batches (an event source
# mapping's DestinationConfig) and failed asynchronous events (an
# AWS::Lambda::EventInvokeConfig's DestinationConfig).
FAILURE_DESTINATION_ACTIONS = {"sqs:SendMessage"}
# The table is encrypted with the desk's own key: DynamoDB uses it on the caller's behalf.
TABLE_KEY_ACTIONS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
# Inbound mail objects are encrypted with the same key by S3.
BUCKET_KEY_ACTIONS = {"kms:Decrypt"}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def _stream_consumers() -> set[str]:
    from infra.local.resources import load_template

    resources = load_template()["Resources"]
    consumers = set()
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            logical_id = resource["Properties"]["FunctionName"]["Ref"]
            consumers.add(_function_name_of(logical_id))
    return consumers


def _failure_destinations() -> dict[str, list[Any]]:
    """Function → the on-failure queues the template gives it (as the template names them)."""
    from infra.local.resources import load_template

    resources = load_template()["Resources"]
    found: dict[str, list[Any]] = {}
    for resource in resources.values():
        if resource["Type"] not in {
            "AWS::Lambda::EventSourceMapping",
            "AWS::Lambda::EventInvokeConfig",
        }:
            continue
        properties = resource["Properties"]
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {})
        if "Destination" not in destination:
            continue
        target = destination["Destination"]["Fn::GetAtt"]  # "Queue.Arn" (short form) or a list
        queue, attribute = target.split(".", 1) if isinstance(target, str) else target
        # An SQS queue: anything else (SNS, another function) needs other grants.
        assert resources[queue]["Type"] == "AWS::SQS::Queue" and attribute == "Arn", queue
        function = _function_name_of(properties["FunctionName"]["Ref"])
        found.setdefault(function, []).append({"Fn::GetAtt": [queue, attribute]})
    return found


def _function_name_of(logical_id: str) -> str:
    """Chalice's CloudFormation name back to its function name (OutboxStream → outbox_stream)."""
    if logical_id == "APIHandler":
        return "api_handler"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()


def _needed_actions(function: str, entries: list[Ref]) -> set[str]:
    reach = _reached_aws_calls(entries)
    assert reach.unresolved == set(), f"{function}: the analysis cannot follow these"
    operations, transact_kinds = reach.operations, reach.transact_kinds
    needed = set(LOG_ACTIONS)
    for service, names in operations.items():
        for operation in names:
            if operation == "transact_write_items":
                needed |= {TRANSACT_ITEM_ACTIONS[kind] for kind in transact_kinds}
            elif operation == "transact_get_items":
                needed.add("dynamodb:GetItem")
            else:
                needed |= _iam_actions(service, operation)
    if "dynamodb" in operations:
        needed |= TABLE_KEY_ACTIONS
    if "s3" in operations:
        needed |= BUCKET_KEY_ACTIONS
    if function in _stream_consumers():
        needed |= STREAM_CONSUMER_ACTIONS
    if function in _failure_destinations():
        needed |= FAILURE_DESTINATION_ACTIONS
    return needed


def _stage_config() -> dict[str, Any]:
    return dict(json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8")))


def _policy_of(function: str) -> dict[str, Any]:
    entry = _stage_config().get("lambda_functions", {}).get(function, {})
    assert entry.get("iam_policy_file"), f"{function}: no iam_policy_file in .chalice/config.json"
    path = ROOT / ".chalice" / entry["iam_policy_file"]
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _allowed_actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}


def test_the_analysis_finds_the_calls_it_must_find() -> None:
    """The check below is only as good as this: known calls must show up."""
    functions = _lambda_functions()
    assert {"api_handler", "outbox_stream", "outbox_sweep", "inbound_mail"} <= set(functions)
    api = _needed_actions("api_handler", functions["api_handler"])
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"} <= api
    assert {"ssm:GetParameter"} <= api  # form tokens and action links
    outbox = _needed_actions("outbox_stream", functions["outbox_stream"])
    assert {"ses:SendEmail", "dynamodb:UpdateItem"} <= outbox
    assert "s3:GetObject" in _needed_actions("inbound_mail", functions["inbound_mail"])
    assert _stream_consumers() == {"outbox_stream"}
    # The stream's failed batches, and the events of the asynchronously invoked functions.
    assert set(_failure_destinations()) == {
        "outbox_stream",
        "inbound_mail",
        "ses_events",
        "outbox_sweep",
        "daily_mail",
    }
    assert "sqs:SendMessage" not in _needed_actions("api_handler", functions["api_handler"])


@pytest.mark.parametrize("function", sorted(_lambda_functions()))
def test_each_function_has_its_own_policy(function: str) -> None:
    config = _stage_config()
    assert config["autogen_policy"] is False
    # No shared fallback: a new function without a policy fails to package.
    assert "iam_policy_file" not in config
    files = {name: f["iam_policy_file"] for name, f in config["lambda_functions"].items()}
    assert function in files, f"add {function} to lambda_functions in .chalice/config.json"
    assert list(files.values()).count(files[function]) == 1, "policies are not shared"
    # A stage-level file would override the per-function ones.
    for stage in config["stages"].values():
        assert "iam_policy_file" not in stage
        assert all("iam_policy_file" not in f for f in stage.get("lambda_functions", {}).values())


@pytest.mark.parametrize("function", sorted(_lambda_functions()))
def test_each_policy_allows_what_its_code_calls(function: str) -> None:
    needed = _needed_actions(function, _lambda_functions()[function])
    allowed = _allowed_actions(_policy_of(function))
    assert needed - allowed == set(), f"{function}: the policy misses these"


@pytest.mark.parametrize("function", sorted(_lambda_functions()))
def test_each_policy_allows_nothing_its_code_does_not_call(function: str) -> None:
    needed = _needed_actions(function, _lambda_functions()[function])
    allowed = _allowed_actions(_policy_of(function))
    assert allowed - needed == set(), f"{function}: the policy grants these without a caller"


def _every_policy() -> dict[str, dict[str, Any]]:
    config = _stage_config()
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / ".chalice").glob("policy*.json"))
        if path.name in {f["iam_policy_file"] for f in config["lambda_functions"].values()}
    }


def _table(suffix: str = "") -> dict[str, Any]:
    """The desk table's ARN in a policy (or the restored table's, after a point-in-time restore)."""
    restored = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
    return {
        "Fn::If": [
            "UseRestoredTable",
            {"Fn::Sub": restored + "${RestoredTableName}" + suffix},
            {"Fn::Sub": "${DeskTable.Arn}" + suffix},
        ]
    }


# Where each kind of action may point: nothing but the desk's own resources.
RESOURCES_BY_ACTION = {
    "dynamodb:GetItem": [_table()],
    "dynamodb:BatchGetItem": [_table()],
    "dynamodb:Query": [_table(), _table("/index/*")],
    "dynamodb:PutItem": [_table()],
    "dynamodb:UpdateItem": [_table()],
    "dynamodb:DeleteItem": [_table()],
    "dynamodb:ConditionCheckItem": [_table()],
    "dynamodb:DescribeStream": [_table("/stream/*")],
    "dynamodb:GetRecords": [_table("/stream/*")],
    "dynamodb:GetShardIterator": [_table("/stream/*")],
    "dynamodb:ListStreams": [_table("/stream/*")],
    "sqs:SendMessage": [
        {"Fn::GetAtt": ["OutboxDeadLetterQueue", "Arn"]},
        {"Fn::GetAtt": ["AsyncDeadLetterQueue", "Arn"]},
    ],
    "s3:GetObject": [{"Fn::Sub": "${InboundMailBucket.Arn}/*"}],
    "ssm:GetParameter": [
        {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
            ":parameter/dx-desk/${Stage}/*"
        }
    ],
    "ses:SendEmail": [
        {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"},
        {
            "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
            ":configuration-set/${MailConfigurationSet}"
        },
    ],
    "kms:Decrypt": [{"Fn::GetAtt": ["DataKey", "Arn"]}],
}
RESOURCES_BY_ACTION["ses:SendRawEmail"] = RESOURCES_BY_ACTION["ses:SendEmail"]
for _action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
    RESOURCES_BY_ACTION[_action] = RESOURCES_BY_ACTION["kms:Decrypt"]


@pytest.mark.parametrize("name", sorted(_every_policy()))
def test_policies_name_only_the_desks_own_resources(name: str) -> None:
    for statement in _every_policy()[name]["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        resources = statement["Resource"]
        assert isinstance(actions, list) and isinstance(resources, list), statement["Sid"]
        assert not any("*" in action for action in actions), statement["Sid"]
        assert "*" not in resources, statement["Sid"]
        for action in actions:
            if action.startswith("logs:"):
                continue
            allowed = RESOURCES_BY_ACTION[action]
            assert all(r in allowed for r in resources), f"{name} {statement['Sid']}: {action}"
        # KMS only through the service that holds the data.
        if any(a.startswith("kms:") for a in actions):
            via = statement["Condition"]["StringEquals"]["kms:ViaService"]
            assert via in (
                {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"},
                {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"},
            ), statement["Sid"]


@pytest.mark.parametrize("function", sorted(_lambda_functions()))
def test_each_function_parks_failures_only_in_its_own_dead_letter_queue(function: str) -> None:
    """sqs:SendMessage names exactly the queues the template sends this function's failures to."""
    granted = [
        resource
        for statement in _policy_of(function)["Statement"]
        if "sqs:SendMessage" in statement["Action"]
        for resource in statement["Resource"]
    ]
    expected = _failure_destinations().get(function, [])
    assert sorted(granted, key=json.dumps) == sorted(expected, key=json.dumps)


@pytest.mark.parametrize("function", sorted(_lambda_functions()))
def test_each_function_writes_only_its_own_logs(function: str) -> None:
    logical_id = "APIHandler" if function == "api_handler" else function.title().replace("_", "")
    (statement,) = [
        s for s in _policy_of(function)["Statement"] if s["Action"][0].startswith("logs:")
    ]
    assert sorted(statement["Action"]) == sorted(LOG_ACTIONS)
    assert statement["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
            f":log-group:/aws/lambda/${{AWS::StackName}}-{logical_id}-*:*"
        }
    ]


def test_importing_the_app_collects_no_garbage_and_leaves_collection_on() -> None:
    """The cold-start rule in app.py: no collection while the modules load, and collection
    back on (with the loaded objects frozen) once the app is built."""
    script = (
        "import gc\n"
        "import app\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10000, gc.get_stats()[2]['collections'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": ""},
    )
    assert result.stdout.split() == ["True", "True", "0"]

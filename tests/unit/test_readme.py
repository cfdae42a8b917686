"""README stays short and its map true; the links of README and docs/ resolve.

The README's map ("Where things are") is a fenced block, one entry a line: a
path (folders end in "/") indented two spaces per level under its folder,
then what it holds. The checks below read that block against the tree, and
each checking function is also run on a small bad example, so that every
check is shown to be able to fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.test_architecture import LAYERS

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_LINES = 200
MAP_HEADING = "## Where things are"
LAYER_INTRO = "Layers, lowest first:"
# Folders whose every Python package the map must name.
PACKAGE_ROOTS = ("chalicelib", "infra")
# Backticked paths under these are meant as paths of this repository.
REPO_PATH = re.compile(r"`((?:chalicelib|infra|tests|templates|docs|\.chalice)/[^`\s:]*)")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


# --- the checks -------------------------------------------------------------


def length_problems(text: str, limit: int = MAX_LINES) -> list[str]:
    lines = len(text.splitlines())
    return [] if lines < limit else [f"{lines} lines: keep README under {limit}"]


def map_lines(text: str) -> list[str]:
    """The lines of the first fenced block after the map's heading (empty if none)."""
    lines = text.splitlines()
    try:
        start = lines.index(MAP_HEADING)
    except ValueError:
        return []
    block: list[str] | None = None
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            if block is not None:
                return block
            block = []
        elif block is not None:
            block.append(line)
        elif line.startswith("## "):
            return []
    return []


def map_entries(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(paths relative to the root, problems with the block's shape).

    Each line is `<indent><name> <what it holds>`; the indent is two spaces per
    level below the folder entry (ending in "/") just above it.
    """
    paths: list[str] = []
    problems: list[str] = []
    folders: list[str] = []  # the folder at each open level
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        name = line.split()[0]
        level, odd = divmod(indent, 2)
        if odd or level > len(folders):
            problems.append(f"map line {number}: {name!r} is not two spaces under a folder")
            continue
        del folders[level:]
        path = "".join(folders) + name
        paths.append(path)
        if name.endswith("/"):
            folders.append(name)
    return paths, problems


def missing_paths(paths: Iterable[str], root: Path) -> list[str]:
    missing = []
    for path in paths:
        target = root / path.rstrip("/")
        if not (target.is_dir() if path.endswith("/") else target.is_file()):
            missing.append(path)
    return missing


def unmapped_packages(paths: Iterable[str], root: Path) -> list[str]:
    """Folders under PACKAGE_ROOTS holding Python, and modules directly in them, not in the map."""
    mapped = {path.rstrip("/") for path in paths}
    wanted: set[str] = set()
    for top in PACKAGE_ROOTS:
        for module in (root / top).rglob("*.py"):
            relative = module.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            folder = relative.parent
            if folder.as_posix() != top:
                wanted.add(folder.as_posix())
            elif module.name != "__init__.py":
                wanted.add(relative.as_posix())
    return sorted(wanted - mapped)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown text."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(text: str, source: Path, root: Path) -> list[str]:
    """Relative links (and images) of a markdown file whose file or heading is not there."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (source.parent / file_part).resolve() if file_part else source
        if not _resolves(linked, anchor, root):
            broken.append(target)
    return broken


def _resolves(linked: Path, anchor: str, root: Path) -> bool:
    if not linked.exists() or not linked.is_relative_to(root.resolve()):
        return False
    if anchor and linked.suffix == ".md":
        return anchor in heading_anchors(linked.read_text(encoding="utf-8"))
    return True


def missing_repo_paths(text: str, root: Path) -> list[str]:
    """Backticked paths of this repository (`chalicelib/...`, `tests/...`) that do not exist."""
    missing = []
    for path in REPO_PATH.findall(text):
        path = path.rstrip(".,;)")
        exists = any(root.glob(path.rstrip("/"))) if "*" in path else (root / path).exists()
        if not exists:
            missing.append(path)
    return missing


def layer_groups(text: str) -> list[set[str]]:
    """The README's layer sentence as groups of names, lowest first."""
    flat = " ".join(text.split())
    start = flat.find(LAYER_INTRO)
    if start < 0:
        return []
    sentence = flat[start + len(LAYER_INTRO) :].split(";")[0]
    return [{name.strip() for name in group.split(",")} for group in sentence.split("<")]


def layers_of_the_test() -> list[set[str]]:
    return [{prefix.split(".")[-1] for prefix in prefixes} for _, prefixes in LAYERS]


# --- the README and docs/ as they are ----------------------------------------


def readme() -> str:
    return README.read_text(encoding="utf-8")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_readme_is_under_200_lines() -> None:
    assert length_problems(readme()) == []


def test_the_map_is_well_formed_and_names_only_paths_that_exist() -> None:
    paths, problems = map_entries(map_lines(readme()))
    assert len(paths) > 20, "README has no map under '## Where things are'"
    assert problems == []
    assert missing_paths(paths, ROOT) == []


def test_the_map_names_every_package_folder_of_chalicelib_and_infra() -> None:
    paths, _ = map_entries(map_lines(readme()))
    assert unmapped_packages(paths, ROOT) == []


def test_the_readme_states_the_layers_of_the_architecture_test() -> None:
    assert layer_groups(readme()) == layers_of_the_test()


@pytest.mark.parametrize("document", documents(), ids=lambda path: path.name)
def test_links_and_anchors_resolve(document: Path) -> None:
    assert broken_links(document.read_text(encoding="utf-8"), document, ROOT) == []


@pytest.mark.parametrize("document", documents(), ids=lambda path: path.name)
def test_paths_named_in_the_documents_exist(document: Path) -> None:
    assert missing_repo_paths(document.read_text(encoding="utf-8"), ROOT) == []


def test_readme_links_every_document_in_docs() -> None:
    linked = {target.partition("#")[0] for target in LINK.findall(readme())}
    documents_ = {f"docs/{path.name}" for path in DOCS.glob("*.md")}
    assert len(documents_) >= 5
    assert documents_ - linked == set()


# --- each check fails on a bad example ----------------------------------------


def test_length_check_refuses_200_lines_and_accepts_199() -> None:
    assert length_problems("line\n" * 199) == []
    assert length_problems("line\n" * 200) == ["200 lines: keep README under 200"]


def _tree(root: Path, *files: str) -> None:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("", encoding="utf-8")


BAD_README = """# x

## Where things are

```
app.py              the app
chalicelib/
  core/             pure rules
  gone/             moved away long ago
  runtime.py        clients
 odd/               one space
infra/
```

Layers, lowest first: core < runtime < app; more words.

- [API](docs/api.md), [design](docs/nowhere.md), [anchor](docs/api.md#no-such-part)
- [site](https://example.jp/x), ![shot](shot.png), [here](#where-things-are)
- `chalicelib/core/` and `chalicelib/core/nothing.py` and `.chalice/policy-*.json`
"""


def test_map_parsing_follows_indentation_and_reports_a_bad_one() -> None:
    paths, problems = map_entries(map_lines(BAD_README))
    assert paths == [
        "app.py",
        "chalicelib/",
        "chalicelib/core/",
        "chalicelib/gone/",
        "chalicelib/runtime.py",
        "infra/",
    ]
    assert problems == ["map line 6: 'odd/' is not two spaces under a folder"]
    assert map_lines("# x\n\n## Elsewhere\n\n```\napp.py\n```\n") == []


def test_map_check_reports_a_path_that_does_not_exist(tmp_path: Path) -> None:
    _tree(tmp_path, "app.py", "chalicelib/core/__init__.py", "chalicelib/runtime.py")
    (tmp_path / "infra").mkdir()
    paths, _ = map_entries(map_lines(BAD_README))
    assert missing_paths(paths, tmp_path) == ["chalicelib/gone/"]
    # A folder named as a file, or a file as a folder, does not count either.
    assert missing_paths(["chalicelib/core", "app.py/"], tmp_path) == ["chalicelib/core", "app.py/"]


def test_map_check_reports_an_unmapped_package_folder(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "chalicelib/core/__init__.py",
        "chalicelib/core/__pycache__/x.cpython-311.py",
        "chalicelib/newfeature/routes.py",  # no __init__.py: still a package folder
        "chalicelib/data/deployment.json",  # no Python: need not be mapped
        "chalicelib/runtime.py",
        "chalicelib/extra.py",
        "infra/local/dev.py",
    )
    mapped = ["chalicelib/", "chalicelib/core/", "chalicelib/runtime.py"]
    assert unmapped_packages(mapped, tmp_path) == [
        "chalicelib/extra.py",
        "chalicelib/newfeature",
        "infra/local",
    ]


def test_link_check_reports_a_missing_document_and_a_missing_heading(tmp_path: Path) -> None:
    _tree(tmp_path, "docs/api.md", "shot.png")
    (tmp_path / "docs" / "api.md").write_text("# API\n\n## The intake\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(BAD_README, encoding="utf-8")
    assert broken_links(BAD_README, tmp_path / "README.md", tmp_path) == [
        "docs/nowhere.md",
        "docs/api.md#no-such-part",
    ]
    assert broken_links("[up](../../etc/passwd)", tmp_path / "docs" / "api.md", tmp_path) == [
        "../../etc/passwd"
    ]


def test_heading_anchors_follow_github() -> None:
    text = "# The dev stack (`make dev`)\n```\n# not a heading\n```\n## Notes\n## Notes\n## 担当 と返信\n"
    assert heading_anchors(text) == {"the-dev-stack-make-dev", "notes", "notes-1", "担当-と返信"}


def test_path_check_reports_a_path_the_text_names_that_does_not_exist(tmp_path: Path) -> None:
    _tree(tmp_path, "chalicelib/core/__init__.py", ".chalice/policy-api.json")
    assert missing_repo_paths(BAD_README, tmp_path) == ["chalicelib/core/nothing.py"]
    assert missing_repo_paths("`.chalice/policy-*.json`", tmp_path / "chalicelib") == [
        ".chalice/policy-*.json"
    ]


def test_layer_check_reports_a_sentence_that_differs_from_the_test() -> None:
    assert layer_groups(BAD_README) == [{"core"}, {"runtime"}, {"app"}]
    assert layer_groups(BAD_README) != layers_of_the_test()
    assert layer_groups("no sentence here") == []

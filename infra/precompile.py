"""Add compiled bytecode to the deployment zip, so a Lambda cold start does not compile.

`chalice package` ships `.py` files only; /var/task is read-only, so every
cold start compiled every module again (here: `import app` 476 ms from
source against 355 ms with bytecode). This adds `__pycache__/*.pyc` beside
each module, compiled with the "unchecked-hash" invalidation mode: the
interpreter uses them without comparing source timestamps, which a zip's
extraction need not keep. It runs only when this Python's version is the
functions' runtime (the bytecode format changes between minor versions);
otherwise it says so and leaves the zip as it is.

Usage: python -m infra.precompile build/deployment.zip build/sam.yaml
"""

from __future__ import annotations

import py_compile
import re
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME = re.compile(r"Runtime:\s*python(\d+)\.(\d+)")


def runtimes(template: Path) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in RUNTIME.findall(template.read_text(encoding="utf-8"))}


def add_bytecode(archive: Path) -> int:
    """Rewrite `archive` with a .pyc beside every .py (dropping any cached bytecode it
    carried); returns how many were compiled."""
    tag = sys.implementation.cache_tag
    added = 0
    with tempfile.TemporaryDirectory() as scratch:
        rebuilt = Path(scratch) / "rebuilt.zip"
        with (
            zipfile.ZipFile(archive) as source,
            zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                if "__pycache__/" in info.filename:
                    # Whatever a working tree's bytecode cache put in: replaced below.
                    continue
                data = source.read(info)
                target.writestr(info, data)
                if not info.filename.endswith(".py"):
                    continue
                folder, _, name = info.filename.rpartition("/")
                compiled = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"
                module = Path(scratch) / "module.py"
                module.write_bytes(data)
                output = Path(scratch) / "module.pyc"
                try:
                    py_compile.compile(
                        str(module),
                        cfile=str(output),
                        dfile=info.filename,
                        doraise=True,
                        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                    )
                except py_compile.PyCompileError:
                    # A file that is not valid for this Python (e.g. a vendored test
                    # fixture) is left to fail, or not, where it is imported.
                    continue
                entry = zipfile.ZipInfo(compiled, date_time=info.date_time)
                entry.external_attr = info.external_attr
                entry.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(entry, output.read_bytes())
                added += 1
        rebuilt.replace(archive)
    return added


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m infra.precompile DEPLOYMENT_ZIP SAM_TEMPLATE", file=sys.stderr)
        return 2
    archive, template = Path(argv[0]), Path(argv[1])
    here = sys.version_info[:2]
    wanted = runtimes(template)
    if wanted != {here}:
        print(
            f"precompile: skipped: this is Python {here[0]}.{here[1]}, the functions run "
            f"{sorted(wanted)}; the zip keeps source only (cold starts compile)"
        )
        return 0
    added = add_bytecode(archive)
    print(f"precompile: {added} modules compiled into {archive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

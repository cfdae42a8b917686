"""`python -m infra.gallery [OUTDIR]`: every page and mail into OUTDIR (default build/gallery).

Exit status: 0 built and every check passed, 1 built but a check found a
problem (listed, and shown in index.html), 2 not built.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.gallery.build import browser_missing, build, japanese_fonts_missing
from infra.gallery.checks import all_problems
from infra.gallery.mails import GalleryError
from infra.gallery.stack import StackError
from infra.local.dev import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.gallery", description=__doc__)
    parser.add_argument("outdir", nargs="?", type=Path, default=ROOT / "build" / "gallery")
    args = parser.parse_args(argv)
    missing = browser_missing()
    if missing:
        print(f"ギャラリーを作れません / cannot build the gallery: {missing}", file=sys.stderr)
        return 2
    if japanese_fonts_missing():
        print(
            "注意：日本語フォントがないため、画像の文字が四角になります / warning: no Japanese "
            "font, screenshots will show boxes (apt-get install fonts-noto-cjk)",
            file=sys.stderr,
        )
    try:
        gallery = build(args.outdir.resolve())
    except (GalleryError, StackError) as exc:
        print(f"ギャラリーを作れません / cannot build the gallery: {exc}", file=sys.stderr)
        return 2
    manifest = json.loads((gallery.folder / "gallery.json").read_text(encoding="utf-8"))
    problems = all_problems(manifest)
    timing = ", ".join(f"{name} {value:.1f} s" for name, value in gallery.seconds.items())
    print(
        f"画面 {len(gallery.pages)} 件、メール {len(gallery.mails)} 件 / "
        f"{len(gallery.pages)} pages, {len(gallery.mails)} mails: {gallery.folder / 'index.html'}"
    )
    print(f"時間 / time: {timing}")
    wide = [(page.name, page.overflow) for page in gallery.pages]
    wide += [(mail.name, mail.overflow) for mail in gallery.mails]
    for name, overflow in wide:
        for width, drawn in overflow.items():
            print(
                f"注意 / note: {name} は {width} px で幅 {drawn} px / is {drawn} px wide at {width} px"
            )
    for problem in problems:
        print(f"問題 / problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Files written whole or not at all: a reader (or the next run after a crash) never sees half a file.

Each writer writes `<name>.partial` beside the file, then renames it over the file (os.replace,
atomic on one file system). Every result, gradebook, plan, ledger and kept grading goes through here.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically, making its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_rows(path: Path, rows: Iterable[Iterable[object]]) -> None:
    """Write CSV `rows` (UTF-8, no BOM, the csv module's quoting) to `path` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    os.replace(partial, path)

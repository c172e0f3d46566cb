"""Durable file writes: the feedback log, batch answers, predictions, the training set."""

from __future__ import annotations

import json
import os
from pathlib import Path

from qa.errors import OutputError, QAError


def fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable too (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write all lines to a temporary file beside `path`, then rename: never a half
    file, and never a device or folder replaced by a file."""
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} is not a regular file (a folder or a device): choose another file name")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({exc.strerror}): choose another file name") from exc


def read_jsonl(path: Path) -> list:
    """Every line of a JSONL file (the eval question set); a bad line is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"cannot read {path}: {exc}") from exc
    items = []
    for n, line in enumerate(lines, start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except (json.JSONDecodeError, RecursionError) as exc:
                raise QAError(f"{path} line {n} is not valid JSON: fix that line") from exc
    return items

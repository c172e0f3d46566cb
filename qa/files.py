"""Durable file writes: the feedback log, batch answers, predictions, the training set."""

from __future__ import annotations

import json
import os
from pathlib import Path

from qa.errors import OutputError


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

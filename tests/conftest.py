"""Shared fixtures: a deterministic fake embedder for unit tests, a tiny
corpus, and one real assistant (real corpus, real model) for end-to-end tests."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.language.terms import analyse
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


class FakeEmbedder:
    """Hashes word stems into a small vector: same words, similar vectors.
    Deterministic and instant, so unit tests need no model."""

    name = "fake-hash-64"
    fingerprint = hashlib.sha256(b"fake-hash-64 weights").hexdigest()
    dimension = 64

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after  # raise after this many texts, to test crashes
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for term in analyse(text):
            digest = hashlib.sha1(term.encode()).digest()
            vector[digest[0] % self.dimension] += 1.0
            vector[digest[1] % self.dimension] += 0.5
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if self.fail_after is not None and len(texts) > self.fail_after:
            raise KeyboardInterrupt("simulated Ctrl-C during the build")
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)


class FakeReader:
    """A readable stand-in for the cross-encoder: a unit's logit is 2 per
    question word its own text shares (context not counted), minus 3. Never the
    shipped weights."""

    weights_sha256 = "fake-reader"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        self.calls.append((query, list(texts)))
        asked = set(analyse(query))
        return np.array([2.0 * len(asked & set(analyse(t.split(" [SEP] ")[0]))) - 3.0 for t in texts], dtype=np.float32)


TINY_DOC = """Bone Health Basics

Table of Contents

What is a bisphosphonate?

Bisphosphonates are drugs that slow the breakdown of bone. Zometa is a bisphosphonate given by IV.

The most common side effects of Zometa include:

  • headache
  • muscle aches
  • fever and chills

Spinal Cord Compression

Back pain with leg weakness can mean spinal cord compression. Call your doctor or go to the emergency room right away if your legs feel weak or numb.

High calcium

High calcium in the blood can cause extreme thirst and confusion. If you have these symptoms, call your doctor right away.

Today on Example

sauteed cherry tomatoes
Fight cancer one plate at a time.
"""

TINY_COPY = """Site Menu
Sign Up

Bone Health Basics

Bisphosphonates are drugs that slow the breakdown of bone. Zometa is a bisphosphonate given by IV.

Exercise

Walking every day keeps muscles strong and helps balance.
"""


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "basics.txt").write_text(TINY_DOC, encoding="utf-8")
    (corpus / "copy.txt").write_text(TINY_COPY, encoding="utf-8")
    (corpus / "metadata.toml").write_text(
        '[[document]]\nfile = "basics.txt"\nid = "basics"\ntitle = "Bone Health Basics"\npublisher = "Example Clinic"\n\n'
        '[[document]]\nfile = "copy.txt"\nid = "copy"\ntitle = "Bone Health Basics (copy)"\npublisher = "Example Clinic"\n'
        'content_starts_with = "Bone Health Basics"\n',
        encoding="utf-8",
    )
    return corpus


# The unit tests' answer model, with weights anyone can read: units ranked by
# their cosine in context (unit logit 10 * cosine - 5; a second unit from cosine
# 0.6); the raw score is the best unit's logit, minus 10 when the question names
# a rare word the sources never use ("keytruda"). Calibrated so that a best
# cosine of 0.5 means confidence 0.5; below 0.25 (cosine under 0.39) it
# abstains. Never the shipped weights, so a retrain cannot change a unit test.
FAKE_CALIBRATION = {"a": 1.0, "b": 0.0, "threshold": 0.25, "fitted_on": "fake"}


def fake_answer_model():
    from qa.answering.answer import (
        ANSWER_FEATURES,
        LearnedAnswerModel,
        Network,
        cosine_only_model,
    )

    weights = {"best unit": 1.0, "rare unknown": -10.0}
    answer = Network.linear(tuple(weights.get(name, 0.0) for name in ANSWER_FEATURES), 0.0)
    cosine = cosine_only_model(extra_unit_min=1.0)
    return LearnedAnswerModel(cosine.unit_weights, cosine.unit_bias, answer, cosine.extra_unit_min)


def fake_triage(dimension: int = 64):
    """A triage model with readable weights: the old urgent-sign rules' flags for
    the message (three of its inputs) make 'urgent now' for their topic; nothing
    else counts. The same file format and checks as a trained one."""
    from qa.answering.triage import CLASSES, TOPICS, TriageModel, WordPatterns, reading

    words = WordPatterns()
    inputs = 2 * dimension + len(words.features("", ""))
    rules_at = 2 * dimension + 2 * len(TOPICS)  # after the vectors and the sign counts
    weights = [[0.0] * len(CLASSES) for _ in range(inputs)]
    for k, topic in enumerate(TOPICS):
        weights[rules_at + k][CLASSES.index(f"urgent:{topic}")] = 20.0
    bias = [0.0] + [-10.0] * (len(CLASSES) - 1)
    layers = ((tuple(map(tuple, weights)), tuple(bias)),)
    return TriageModel((0.0,) * inputs, (1.0,) * inputs, layers, (0.5, 0.5, 0.5), 0.5, FakeEmbedder.fingerprint,
                       reading(words, dimension), words)


def write_fake_answer_model(folder: Path) -> Path:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    fake_answer_model().save(folder)
    fake_triage().save(folder, {"fake": True})
    (folder / "calibration.json").write_text(json.dumps(FAKE_CALIBRATION), encoding="utf-8")
    return folder


@pytest.fixture
def tiny_settings(tiny_corpus: Path, tmp_path: Path) -> Settings:
    answer_model = write_fake_answer_model(tmp_path / "fake-answer-model")
    return Settings(
        corpus_dir=tiny_corpus, index_dir=tmp_path / "index", chunk_chars=300, answer_model_path=answer_model, use_reader=False,
    )


@pytest.fixture
def fake_assistant(tiny_settings: Settings):
    from qa.answering.assistant import Assistant

    return Assistant.load(tiny_settings, embedder=FakeEmbedder())


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory) -> Path:
    """A copy of the project's corpus, so tests never touch the real index."""
    target = tmp_path_factory.mktemp("real") / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


@pytest.fixture(scope="session")
def assistant(real_corpus: Path):
    """The real assistant: real corpus, bundled all-MiniLM-L6-v2, built once."""
    from qa.answering.assistant import Assistant

    settings = Settings(corpus_dir=real_corpus, index_dir=real_corpus.parent / "index")
    return Assistant.load(settings)

"""What the answer model sees: every unit of the retrieved passages as a
candidate with its features, and the question's own features.

    >>> reader = Reader(index)
    >>> candidates = reader.candidates(query, passages, query_vector)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from qa.answering.memory import Memory
from qa.data import Chunk, Passage, Unit
from qa.index.store import Index
from qa.language.terms import (
    Vocabulary,
    analyse,
    asks_for_figure,
    defined_term,
    states_figure,
    subject_words,
    words,
)
from qa.settings import RARE_ZIPF

# A unit is read with the sentence before it: "These tests are painless" means
# little alone. Its vector is its own plus this share of the previous unit's.
CONTEXT_WEIGHT = 0.5
# Caps that scale features into [0, 1]; the trained weights were fitted on them.
QUESTION_WORDS_CAP = 100
UNIT_WORDS_CAP = 60
_LEANS_BACK = re.compile(r"^(This|These|That|Those|It|They|Such|Both|All)\b")

UNIT_FEATURES = (
    "cosine in context", "own cosine", "passage cosine", "passage rank", "shared terms",
    "defines the term", "repeats last answer", "leans back", "length",
    "cosine below best", "own cosine below best", "remembered", "nearest remembered",
)
QUESTION_FEATURES = (
    "unknown share", "all unknown", "rare unknown", "rarest unknown", "asks for a figure", "no subject", "question length",
    "nearest answerable", "nearest unanswerable",
)


@dataclass(frozen=True)
class Candidate:
    """One unit of a retrieved passage, with its features (UNIT_FEATURES order)."""

    unit: Unit
    chunk: Chunk
    uid: int
    features: tuple[float, ...]
    before: str = ""  # the unit before it in its section, wherever the chunks cut ("" when it opens the section)


@dataclass(frozen=True)
class Question:
    """A question as the answer model sees it: its text and features (QUESTION_FEATURES order)."""

    text: str
    query: str
    features: tuple[float, ...]
    unknown: tuple[tuple[str, float], ...] = ()  # subject words the sources never use, with their zipf

    @property
    def asks_for_figure(self) -> bool:
        return self.features[QUESTION_FEATURES.index("asks for a figure")] == 1.0


def describe(text: str, query: str, vocabulary: Vocabulary, nearest: tuple[float, float] = (0.0, 0.0)) -> Question:
    """The question-level features: words the sources lack are a signal, never a
    verdict. They are read from the query, which carries a follow-up's subject:
    "why the rush?" after a question on cord compression asks about something known.
    `nearest`: cosine to the nearest answerable and unanswerable remembered question."""
    unknown = tuple(vocabulary.unknown_words(query))
    subject = subject_words(query)
    rarest = min((zipf for _, zipf in unknown), default=8.0)
    features = (
        len(unknown) / len(subject) if subject else 0.0,
        float(bool(subject) and len(unknown) == len(subject)),
        float(rarest < RARE_ZIPF),
        max(0.0, min(1.0, (5.0 - rarest) / 5.0)),
        float(asks_for_figure(text)),
        float(not subject_words(query)),
        min(len(words(text)), QUESTION_WORDS_CAP) / QUESTION_WORDS_CAP,
        *nearest,
    )
    return Question(text, query, features, unknown)


def figure_gap(question: Question, units: list[Unit]) -> float:
    """1 when the question asks for a figure and none of these units gives one."""
    return float(question.asks_for_figure and not any(states_figure(u.text) for u in units))


class Reader:
    """Turns passages into candidates; word statistics and vectors on first use."""

    def __init__(self, index: Index, memory: Memory | None = None) -> None:
        self.index = index
        dim = index.unit_vectors.shape[1]
        if memory is None or memory.model != index.manifest["model"]["fingerprint"]:
            memory = Memory.empty(dim)  # another model's vectors would mean nothing here
        self.memory = memory
        self._terms: list[frozenset[str]] | None = None
        self._idf: dict[str, float] = {}
        self._vectors: np.ndarray | None = None
        self._remembered: dict[int, np.ndarray] = {}  # unit id -> remembered questions it answers

    def _prepare(self) -> None:
        chunk_terms = [set(analyse(f"{c.section} {c.text}")) for c in self.index.chunks]
        df: dict[str, int] = {}
        for terms in chunk_terms:
            for term in terms:
                df[term] = df.get(term, 0) + 1
        self._idf = {t: math.log(1 + len(chunk_terms) / d) for t, d in df.items()}
        unit_terms: list[frozenset[str]] = [frozenset()] * len(self.index.unit_vectors)
        for uid, (chunk, unit) in self.index.units.items():
            unit_terms[uid] = frozenset(analyse(unit.text)) | frozenset(analyse(chunk.section))
        self._terms = unit_terms
        self._vectors = in_context(self.index)
        self._remembered = remembered_units(self.index, self.memory)

    def _before(self, uid: int) -> str:
        earlier = self.index.previous.get(uid)
        return "" if earlier is None else self.index.units[earlier][1].text

    def term_overlap(self, query_terms: list[str], uid: int) -> float:
        """IDF-weighted share of the question's terms found in the unit or its heading."""
        if self._terms is None:
            self._prepare()
        if not query_terms:
            return 0.0
        weights = [self._idf.get(t, 1.0) for t in query_terms]
        found = sum(w for t, w in zip(query_terms, weights) if t in self._terms[uid])
        return found / sum(weights)

    def candidates(
        self, query: str, passages: list[Passage], query_vector: np.ndarray, avoid: frozenset[int] = frozenset(),
        sims: np.ndarray | None = None,
    ) -> list[Candidate]:
        """Every unit of the passages that could answer, once, in passage order.
        `sims`: the query's cosines to the remembered questions, if already computed."""
        if self._vectors is None:
            self._prepare()
        query_terms = list(dict.fromkeys(analyse(query)))
        term = defined_term(query)
        sims = self.memory.similarities(query_vector) if sims is None else sims
        nearest = int(np.argmax(sims)) if len(sims) else -1
        seen: set[int] = set()
        rows = []
        for passage in passages:
            ids = list(self.index.unit_ids[passage.chunk.id])
            in_ctx = self._vectors[ids] @ query_vector
            own = self.index.unit_vectors[ids] @ query_vector
            for unit, uid, cos, own_cos in zip(passage.chunk.units, ids, in_ctx, own):
                if unit.is_question or uid in seen:
                    continue
                seen.add(uid)
                asked = self._remembered.get(uid)
                features = (
                    float(cos),
                    float(own_cos),
                    passage.dense,
                    1.0 / (1 + passage.rank),
                    self.term_overlap(query_terms, uid),
                    float(term is not None and defines(unit.text, term)),
                    float(uid in avoid),
                    float(bool(_LEANS_BACK.match(unit.text))),
                    min(len(unit.text.split()), UNIT_WORDS_CAP) / UNIT_WORDS_CAP,
                )
                memory = (
                    float(sims[asked].max()) if asked is not None else 0.0,
                    float(asked is not None and nearest in asked),
                )
                rows.append((unit, passage.chunk, uid, features, memory))
        if not rows:
            return []
        # How far a unit falls behind the best one: the same cosine means more
        # when no other unit comes close.
        best_cos = max(r[3][0] for r in rows)
        best_own = max(r[3][1] for r in rows)
        return [
            Candidate(unit, chunk, uid, (*features, features[0] - best_cos, features[1] - best_own, *memory), self._before(uid))
            for unit, chunk, uid, features, memory in rows
        ]


def remembered_units(index: Index, memory: Memory) -> dict[int, np.ndarray]:
    """For each unit, the remembered questions it answers (found by its text,
    so a rebuilt index with the same sentences keeps them)."""
    by_text: dict[str, list[int]] = {}
    for uid, (_, unit) in index.units.items():
        by_text.setdefault(unit.text, []).append(uid)
    questions: dict[int, list[int]] = {}
    for n, texts in enumerate(memory.units):
        for text in texts:
            for uid in by_text.get(text, ()):
                questions.setdefault(uid, []).append(n)
    return {uid: np.array(sorted(set(ns))) for uid, ns in questions.items()}


def in_context(index: Index, weight: float = CONTEXT_WEIGHT) -> np.ndarray:
    """Unit vectors blended with the previous unit of the same passage, unit length."""
    vectors = index.unit_vectors.copy()
    for uid, before in index.previous.items():
        if "\n" not in index.units[uid][1].text:  # a lead-in with its list carries its own context
            vectors[uid] += weight * index.unit_vectors[before]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def defines(text: str, term: str) -> bool:
    """Whether a unit reads as a definition of `term`: it opens with the term
    ("Vertebroplasty. In this procedure...", "Hypercalcemia is...") or names it
    ("a bone density test—called a DEXA scan")."""
    name = r"\s+".join(re.escape(word) for word in term.split()) + r"(?:e?s)?"
    opens = re.match(rf"\W*(?:an?\s+|the\s+)?{name}\s*(?:is\b|are\b|means\b|refers\b|\(|,|\.|:|—)", text, re.I)
    names = re.search(rf"\b(?:called|known as|is|are)\s+(?:an?\s+|the\s+)?[“\"]?{name}\b", text, re.I)
    return bool(opens or names)

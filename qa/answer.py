"""Pick the answer: score the units of the retrieved passages against the
question and keep the best one to three, verbatim, in source order.

    >>> reader = Reader(index, settings)
    >>> picked, confidence = reader.extract(question, passages, query_vector)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from qa.data import Chunk, Passage, Unit
from qa.index import Index
from qa.settings import Settings
from qa.terms import analyse, defined_term

# Weights of a unit's score: meaning (cosine to the question), shared words,
# and how well its whole passage matches. Chosen on the dev questions.
W_DENSE, W_TERMS, W_PASSAGE = 0.30, 0.25, 0.40
# Confidence = sigmoid(A * best unit score + B): the chance the answer is right,
# fitted on the dev questions by eval/calibrate.py.
CONFIDENCE_A, CONFIDENCE_B = 5.695, -2.245
# A unit is read with the sentence before it: "These tests are painless" means
# little alone. Its vector is its own plus this share of the previous unit's.
# Chosen on dev: answer accuracy 0.810 against 0.778 read alone (README, "Chosen by measurement").
CONTEXT_WEIGHT = 0.5
DEFINITION_BONUS = 0.10  # "what is X?": a unit that defines X ("X is...", "called X")
REPEAT_PENALTY = 0.10  # a follow-up should say something new, not repeat the last answer
EXTRA_UNIT_MARGIN = 0.08  # a second or third unit must score within this of the best
_LEANS_BACK = re.compile(r"^(This|These|That|Those|It|They|Such|Both|All)\b")


@dataclass(frozen=True)
class Pick:
    """A chosen unit, the chunk it came from, and its score."""

    unit: Unit
    chunk: Chunk
    score: float
    uid: int


def confidence_of(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-(CONFIDENCE_A * score + CONFIDENCE_B)))


class Reader:
    """Scores answer units; the word statistics are computed on first use."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self._terms: list[frozenset[str]] | None = None
        self._idf: dict[str, float] | None = None
        self._vectors: np.ndarray | None = None

    def _prepare(self) -> None:
        chunk_terms = [set(analyse(f"{c.section} {c.text}")) for c in self.index.chunks]
        n = len(chunk_terms)
        df: dict[str, int] = {}
        for terms in chunk_terms:
            for term in terms:
                df[term] = df.get(term, 0) + 1
        self._idf = {t: math.log(1 + n / d) for t, d in df.items()}
        n_units = len(self.index.unit_vectors)
        unit_terms: list[frozenset[str]] = [frozenset()] * n_units
        for chunk, ids in zip(self.index.chunks, self.index.unit_ids):
            section = analyse(chunk.section)
            for unit, uid in zip(chunk.units, ids):
                unit_terms[uid] = frozenset(analyse(unit.text)) | frozenset(section)
        self._terms = unit_terms
        self._vectors = in_context(self.index)

    def term_overlap(self, query_terms: list[str], uid: int) -> float:
        """IDF-weighted share of the question's terms found in the unit or its heading."""
        if self._terms is None:
            self._prepare()
        if not query_terms:
            return 0.0
        weights = [self._idf.get(t, 1.0) for t in query_terms]
        found = sum(w for t, w in zip(query_terms, weights) if t in self._terms[uid])
        return found / sum(weights)

    def score_units(
        self, query: str, passages: list[Passage], query_vector: np.ndarray, avoid: frozenset[int] = frozenset()
    ) -> list[Pick]:
        """Every answerable unit of the passages with its score, best first;
        units in `avoid` (the previous answer) lose REPEAT_PENALTY."""
        if self._vectors is None:
            self._prepare()
        query_terms = list(dict.fromkeys(analyse(query)))
        term = defined_term(query)
        best: dict[int, Pick] = {}
        for passage in passages:
            ids = self.index.unit_ids[passage.chunk.id]
            similarities = self._vectors[list(ids)] @ query_vector
            for unit, uid, similarity in zip(passage.chunk.units, ids, similarities):
                if unit.is_question:
                    continue
                score = (
                    W_DENSE * float(similarity)
                    + W_TERMS * self.term_overlap(query_terms, uid)
                    + W_PASSAGE * passage.dense
                    - (REPEAT_PENALTY if uid in avoid else 0.0)
                    + (DEFINITION_BONUS if term is not None and defines(unit.text, term) else 0.0)
                )
                if uid not in best or score > best[uid].score:
                    best[uid] = Pick(unit, passage.chunk, score, uid)
        return sorted(best.values(), key=lambda p: (-p.score, p.chunk.id, p.unit.span.start))

    def extract(
        self, query: str, passages: list[Passage], query_vector: np.ndarray, avoid: frozenset[int] = frozenset()
    ) -> tuple[list[Pick], float]:
        """The answer units in source order, and the confidence in [0, 1]."""
        ranked = self.score_units(query, passages, query_vector, avoid)
        if not ranked:
            return [], 0.0
        top = ranked[0]
        picked = [top]
        previous = _previous_unit(top)
        if previous is not None and _LEANS_BACK.match(top.unit.text):
            # "These symptoms may be due to..." needs the sentence it points back to.
            picked.append(Pick(previous, top.chunk, top.score, -1))
        for pick in ranked[1:]:
            if len(picked) >= self.settings.max_units:
                break
            if pick.score < top.score - EXTRA_UNIT_MARGIN:
                break
            if any(_overlaps(pick, other) or _similar(pick, other) for other in picked):
                continue
            picked.append(pick)
        # Source order within a document; the document with the best unit first.
        first = {}
        for pick in picked:
            first.setdefault(pick.chunk.file, len(first))
        picked.sort(key=lambda p: (first[p.chunk.file], p.unit.span.start))
        return picked, confidence_of(top.score)


def in_context(index: Index, weight: float = CONTEXT_WEIGHT) -> np.ndarray:
    """Unit vectors blended with the previous unit of the same passage, unit length."""
    vectors = index.unit_vectors.copy()
    previous: dict[int, int] = {}
    for ids in index.unit_ids:
        for before, uid in zip(ids, ids[1:]):
            previous.setdefault(uid, before)  # overlapping chunks agree on it
    units = {uid: unit for chunk, ids in zip(index.chunks, index.unit_ids) for unit, uid in zip(chunk.units, ids)}
    for uid, before in previous.items():
        if "\n" not in units[uid].text:  # a lead-in with its list carries its own context
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


def _previous_unit(pick: Pick) -> Unit | None:
    units = pick.chunk.units
    for i, unit in enumerate(units):
        if unit.span == pick.unit.span:
            return units[i - 1] if i > 0 and not units[i - 1].is_question else None
    return None


def _overlaps(a: Pick, b: Pick) -> bool:
    return a.chunk.file == b.chunk.file and a.unit.span.start < b.unit.span.end and b.unit.span.start < a.unit.span.end


def _similar(a: Pick, b: Pick) -> bool:
    """Two units that say much the same thing: keep only the first."""
    x, y = set(analyse(a.unit.text)), set(analyse(b.unit.text))
    return bool(x and y) and len(x & y) / len(x | y) > 0.5

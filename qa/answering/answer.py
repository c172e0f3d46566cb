"""Choose the answer. The contract is one method: candidates in, picks and a
raw score out. The shipped model, trained by `qa train`, ranks units and
scores answerability with logistic regressions (the answerability head is a
`Network`, which may also hold hidden layers); a new one only has to
implement `choose` and be returned by `load_answer_model`.

    >>> model = load_answer_model(Path("models/bonemets-minilm"))
    >>> picks, raw = model.choose(question, candidates, max_units=3)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.answering.entities import conditions, names, of_a_treatment, opening
from qa.answering.features import (
    CONTEXT_WEIGHT,
    QUESTION_FEATURES,
    QUESTION_WORDS_CAP,
    UNIT_FEATURES,
    UNIT_WORDS_CAP,
    Candidate,
    Question,
    figure_gap,
)
from qa.answering.retrieve import CANDIDATES
from qa.data import Chunk, Span, Unit
from qa.errors import AnswerModelError
from qa.files import read_model_json, require_finite
from qa.language.terms import analyse
from qa.settings import RARE_ZIPF

POLICY_FILE = "policy.json"
MARGIN_CAP = 5.0  # the best unit's lead over the second, capped
ANSWER_FEATURES = (
    "best unit", "margin", "best cosine", "best passage cosine", "best shared terms", "figure gap", *QUESTION_FEATURES
)


@dataclass(frozen=True)
class Pick:
    """A chosen unit, the chunk it came from, and the model's score for it."""

    unit: Unit
    chunk: Chunk
    score: float
    uid: int
    before: str = ""  # the unit before it in its section (Candidate.before)


class AnswerModel(Protocol):
    def choose(self, question: Question, candidates: list[Candidate], max_units: int) -> tuple[list[Pick], float]:
        """The units that answer, in reading order, and a raw score: higher means
        more likely right. The calibration turns the score into a probability."""


@dataclass(frozen=True)
class Network:
    """A small feed-forward scorer: standardised features, ReLU hidden layers,
    one logit out. With no hidden layer it is a logistic regression."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    layers: tuple[tuple[tuple[tuple[float, ...], ...], tuple[float, ...]], ...]  # (weights in x out, bias) each

    def __post_init__(self) -> None:
        width = len(self.mean)
        if len(self.scale) != width:
            raise ValueError("mean and scale must have one value per feature")
        for weights, bias in self.layers:
            if any(len(row) != len(bias) for row in weights) or len(weights) != width:
                raise ValueError("each layer's weights must be (inputs x outputs), matching the features and the bias")
            width = len(bias)
        if not self.layers or width != 1:
            raise ValueError("the last layer must give one logit")

    @classmethod
    def linear(cls, weights: tuple[float, ...], bias: float) -> "Network":
        return cls((0.0,) * len(weights), (1.0,) * len(weights), ((tuple((w,) for w in weights), (bias,)),))

    @property
    def inputs(self) -> int:
        return len(self.mean)

    def logit(self, x: tuple[float, ...]) -> float:
        h = (np.asarray(x, dtype=float) - np.asarray(self.mean)) / np.asarray(self.scale)
        for n, (weights, bias) in enumerate(self.layers):
            h = h @ np.asarray(weights) + np.asarray(bias)
            if n < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return float(h[0])

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "scale": list(self.scale), "layers": [{"weights": w, "bias": b} for w, b in self.layers]}

    @classmethod
    def from_json(cls, data: dict) -> "Network":
        layers = tuple(
            (tuple(tuple(float(v) for v in row) for row in layer["weights"]), tuple(float(v) for v in layer["bias"]))
            for layer in data["layers"]
        )
        return cls(tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["scale"]), layers)


@dataclass(frozen=True)
class LearnedAnswerModel:
    """A logistic regression scores each unit; a `Network` (linear as shipped) scores the whole answer."""

    unit_weights: tuple[float, ...]
    unit_bias: float
    answer: Network
    extra_unit_min: float  # a second or third unit needs at least this chance of being a gold unit

    def __post_init__(self) -> None:
        if len(self.unit_weights) != len(UNIT_FEATURES) or self.answer.inputs != len(ANSWER_FEATURES):
            raise ValueError("the weights must match UNIT_FEATURES and ANSWER_FEATURES one to one")

    def unit_logits(self, candidates: list[Candidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        x = np.array([c.features for c in candidates], dtype=float)
        return x @ np.array(self.unit_weights) + self.unit_bias

    def answer_logit(self, question: Question, candidates: list[Candidate], logits: np.ndarray) -> float:
        return self.answer.logit(answer_features(question, candidates, logits))

    def choose(self, question: Question, candidates: list[Candidate], max_units: int) -> tuple[list[Pick], float]:
        if not candidates:
            return [], self.answer_logit(question, [], np.zeros(0))
        logits = self.unit_logits(candidates)
        order = sorted(range(len(candidates)), key=lambda i: (-logits[i], candidates[i].chunk.id, candidates[i].unit.span.start))
        ranked = [Pick(candidates[i].unit, candidates[i].chunk, sigmoid(logits[i]), candidates[i].uid, candidates[i].before) for i in order]
        raw = self.answer_logit(question, candidates, logits)
        return best_first(select(ranked, self.extra_unit_min, max_units)), raw

    def save(self, folder: Path) -> None:
        data = {
            "unit_features": list(UNIT_FEATURES), "answer_features": list(ANSWER_FEATURES), "reads": reading_constants(),
            "unit_weights": list(self.unit_weights), "unit_bias": self.unit_bias,
            "answer": self.answer.to_json(), "extra_unit_min": self.extra_unit_min,
        }
        (folder / POLICY_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_answer_model(folder: Path) -> LearnedAnswerModel:
    """The answer model trained with the embedding model in `folder`."""
    path = folder / POLICY_FILE
    data = read_model_json(path, "answer model", "qa train")
    if data.get("unit_features") != list(UNIT_FEATURES) or data.get("answer_features") != list(ANSWER_FEATURES):
        raise AnswerModelError(f"{path} was trained on other features than this code computes: retrain with `qa train`")
    if data.get("reads") != reading_constants():
        changed = [f"{k} {v} here, {(data.get('reads') or {}).get(k)} in the file" for k, v in reading_constants().items()
                   if (data.get("reads") or {}).get(k) != v]
        raise AnswerModelError(f"{path} was trained reading its features otherwise ({'; '.join(changed)}): retrain with `qa train`")
    try:
        model = LearnedAnswerModel(
            tuple(float(w) for w in data["unit_weights"]),
            float(data["unit_bias"]),
            Network.from_json(data["answer"]),
            float(data["extra_unit_min"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AnswerModelError(f"{path} is damaged ({exc}): retrain with `qa train`") from exc
    net = model.answer
    numbers = [*model.unit_weights, model.unit_bias, model.extra_unit_min, *net.mean, *net.scale]
    numbers += [v for weights, bias in net.layers for row in weights for v in (*row,)] + [v for _, bias in net.layers for v in bias]
    require_finite(numbers, path, "qa train")
    return model


def reading_constants() -> dict:
    """The constants that shape what the weights read: saved with them in
    policy.json and checked at load, so changing one without retraining is refused."""
    return {
        "context_weight": CONTEXT_WEIGHT, "question_words_cap": QUESTION_WORDS_CAP, "unit_words_cap": UNIT_WORDS_CAP,
        "rare_zipf": RARE_ZIPF, "margin_cap": MARGIN_CAP, "retrieval_candidates": CANDIDATES,
    }


def cosine_only_model(extra_unit_min: float = 1.0) -> LearnedAnswerModel:
    """Units ranked by their cosine in context alone, one unit an answer: the
    answer model before any training (mining examples) and the ablation."""
    unit = tuple(10.0 if name == "cosine in context" else 0.0 for name in UNIT_FEATURES)
    answer = tuple(1.0 if name == "best unit" else 0.0 for name in ANSWER_FEATURES)
    return LearnedAnswerModel(unit, -5.0, Network.linear(answer, 0.0), extra_unit_min)


def answer_features(question: Question, candidates: list[Candidate], logits: np.ndarray) -> tuple[float, ...]:
    """ANSWER_FEATURES for a question and its scored candidates."""
    if not candidates:
        return (-10.0, 0.0, 0.0, 0.0, 0.0, figure_gap(question, []), *question.features)
    order = np.argsort(-logits, kind="stable")
    best = candidates[order[0]]
    margin = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else MARGIN_CAP
    top = [candidates[i].unit for i in order[:3]]
    return (
        float(logits[order[0]]),
        min(margin, MARGIN_CAP),
        best.features[0],
        best.features[2],
        best.features[4],
        figure_gap(question, top),
        *question.features,
    )


def select(ranked: list[Pick], extra_unit_min: float, max_units: int) -> list[Pick]:
    """The best unit (with the sentence it leans back on), then other likely
    units that say something new, up to max_units."""
    # A lead-in whose list is not with it ("...they include:") says nothing alone.
    ranked = [pick for pick in ranked if not pick.unit.text.rstrip().endswith(":")]
    if not ranked:
        return []
    top = ranked[0]
    picked = [with_lead(top)]
    for pick in ranked[1:]:
        if len(picked) >= max_units or pick.score < extra_unit_min:
            break
        if any(_overlaps(pick, other) or _similar(pick, other) for other in picked):
            continue
        picked.append(pick)
    return picked[:max_units]


def with_lead(top: Pick) -> Pick:
    """The unit and the sentence it points back to, as one passage: "These
    symptoms may be due to..." is quoted from the sentence that names them.
    One passage, not two units, so that what is read first is the answer
    with what it needs (the text between them is the chunk's own: verbatim)."""
    previous = _previous_unit(top)
    if previous is None or not _points_back(top.unit.text, previous.text):
        return top
    return joined(top, previous, top.unit)


def joined(pick: Pick, first: Unit, last: Unit) -> Pick:
    """The pick as one passage from the first unit's start to the last's end:
    the chunk's own text between them, so still verbatim."""
    offset = pick.chunk.span.start
    span = Span(first.span.start, last.span.end)
    return replace(pick, unit=Unit(span, pick.chunk.text[span.start - offset : span.end - offset], page=first.page))


def best_first(picks: list[Pick]) -> list[Pick]:
    """The best unit first, then the others in reading order: what is read first answers."""
    if not picks:
        return []
    top, rest = picks[0], picks[1:]
    return [top] + sorted(rest, key=lambda p: (p.chunk.file != top.chunk.file, p.chunk.file, p.unit.span.start))


# A unit opening so points back at the sentence before ("These symptoms may be
# due to..."): that sentence comes with it. "It" or "They" mostly name the
# subject the question already gives ("It is often worse at night"), and the
# sentence before would be read first for nothing; they lean back only on a
# sentence naming a treatment they do not name themselves ("Denosumab
# (Xgeva) ..." before "It's more expensive than bisphosphonates"). The words
# are in data/entities.json.
def _points_back(text: str, before: str) -> bool:
    """"These tests are painless." always; "It is..." when the sentence before names a
    treatment or a complication it does not ("The high calcium also causes... It can make
    you feel very tired": alone, it read as the tiredness of radiotherapy)."""
    kind = opening(text)
    if kind == "lead":
        return True
    if kind == "pronoun":
        return bool(names(before) - names(text) or conditions(before) - conditions(text))
    # "The most common side effects are shortness of breath..." names no treatment: it
    # speaks of the one the sentence before names (Xgeva), which alone it does not say.
    return of_a_treatment(text) and bool(names(before))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(x)))))


def _previous_unit(pick: Pick) -> Unit | None:
    """The unit before the pick's first sentence (it may be a joined passage), unless it is a question."""
    units = pick.chunk.units
    for i, unit in enumerate(units):
        if unit.span.start == pick.unit.span.start:
            return units[i - 1] if i > 0 and not units[i - 1].is_question else None
    return None


def _next_unit(pick: Pick) -> Unit | None:
    """The unit after the pick's last sentence (it may be a joined passage), unless it is a question."""
    units = pick.chunk.units
    for i, unit in enumerate(units):
        if unit.span.end == pick.unit.span.end:
            return units[i + 1] if i + 1 < len(units) and not units[i + 1].is_question else None
    return None


def _overlaps(a: Pick, b: Pick) -> bool:
    return a.chunk.file == b.chunk.file and a.unit.span.start < b.unit.span.end and b.unit.span.start < a.unit.span.end


def _similar(a: Pick, b: Pick) -> bool:
    """Two units that say much the same thing: keep only the first."""
    x, y = set(analyse(a.unit.text)), set(analyse(b.unit.text))
    return bool(x and y) and len(x & y) / len(x | y) > 0.5

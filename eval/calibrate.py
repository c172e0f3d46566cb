"""Fit the answer confidence on the dev split (never on test).

Confidence is a logistic function of the best unit's score, fitted so that it
estimates the chance the answer holds a gold span; answering an unanswerable
question counts as wrong. Prints the coefficients for qa/answer.py and the
abstention threshold that keeps false abstentions on dev at or under 5%.

    .venv/bin/python eval/calibrate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from qa.evaluate import contains_gold
from qa.pipeline import Assistant

MAX_FALSE_ABSTENTIONS = 0.05


def best_scores(assistant, items):
    """(best unit score, answer is right, answerable) for each item."""
    rows = []
    for item in items:
        _, query = assistant.prepare(item["question"], item["history"])
        picks, _, _ = assistant.answer_units(query)
        score = max((p.score for p in picks), default=0.0)
        right = item["answerable"] and contains_gold(" ".join(p.unit.text for p in picks), item["answers"])
        rows.append((score, float(right), item["answerable"]))
    return np.array(rows, dtype=float)


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 20000, rate: float = 0.5) -> tuple[float, float]:
    """Plain gradient descent on the log loss of sigmoid(a*x + b)."""
    a, b = 1.0, 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * x + b)))
        a -= rate * np.mean((p - y) * x)
        b -= rate * np.mean(p - y)
    return float(a), float(b)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("eval/questions.jsonl")
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    dev = [i for i in items if i["split"] == "dev"]
    rows = best_scores(Assistant.load(), dev)
    a, b = fit_logistic(rows[:, 0], rows[:, 1])
    confidence = 1 / (1 + np.exp(-(a * rows[:, 0] + b)))
    answerable = rows[:, 2] == 1
    best = 0.0
    for threshold in np.arange(0.0, 1.0, 0.01):
        false_abstentions = np.mean(confidence[answerable] < threshold)
        if false_abstentions <= MAX_FALSE_ABSTENTIONS:
            best = threshold
    recall = np.mean(confidence[~answerable] < best)
    print(f"CONFIDENCE_A, CONFIDENCE_B = {a:.3f}, {b:.3f}")
    print(f"abstain_below = {best:.2f}  (dev: false abstentions {np.mean(confidence[answerable] < best):.3f}, "
          f"abstention recall from confidence alone {recall:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

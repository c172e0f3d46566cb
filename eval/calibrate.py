"""Fit the answer confidence on the dev split (never on test).

Confidence is a logistic function of the best unit's score, fitted so that it
estimates the chance the answer holds a gold span; answering an unanswerable
question counts as wrong. Prints the coefficients for qa/answer.py; once they
are there, the lowest abstention threshold that lets the whole pipeline catch as
many unanswerable dev questions as any threshold keeping false abstentions on
dev at or under 5%.

    .venv/bin/python eval/calibrate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from qa.answer import CONFIDENCE_A, CONFIDENCE_B
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


def pipeline_outcomes(assistant, items):
    """(confidence, abstained by a rule, answerable) for each item, with the
    threshold switched off, so the rules (off-topic, unknown terms) count too."""
    open_door = Assistant(assistant.index, assistant.embedder, assistant.settings.with_(abstain_below=0.0))
    rows = []
    for item in items:
        answer = open_door.ask(item["question"], item["history"])
        rows.append((answer.confidence, answer.abstained, item["answerable"]))
    return np.array(rows, dtype=float)


def choose_threshold(rows: np.ndarray) -> float:
    """The lowest threshold that catches as many unanswerable questions as any
    threshold keeping false abstentions within MAX_FALSE_ABSTENTIONS: a higher
    one only refuses more answerable questions."""
    confidence, by_rule, answerable = rows[:, 0], rows[:, 1] == 1, rows[:, 2] == 1

    def refused(t):
        return by_rule | (confidence < t)

    allowed = [t for t in np.arange(0.0, 1.0, 0.01) if np.mean(refused(t)[answerable]) <= MAX_FALSE_ABSTENTIONS]
    most = np.mean(refused(max(allowed))[~answerable])
    return float(min(t for t in allowed if np.mean(refused(t)[~answerable]) >= most))


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("eval/questions.jsonl")
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    dev = [i for i in items if i["split"] == "dev"]
    assistant = Assistant.load()
    rows = best_scores(assistant, dev)
    a, b = fit_logistic(rows[:, 0], rows[:, 1])
    print(f"CONFIDENCE_A, CONFIDENCE_B = {a:.3f}, {b:.3f}")
    if (round(a, 3), round(b, 3)) != (CONFIDENCE_A, CONFIDENCE_B):
        print("put these in qa/answer.py and run this again to choose the threshold")
        return 1
    outcomes = pipeline_outcomes(assistant, dev)
    best = choose_threshold(outcomes)
    refused = (outcomes[:, 1] == 1) | (outcomes[:, 0] < best)
    answerable = outcomes[:, 2] == 1
    print(f"abstain_below = {best:.2f}  (dev, whole pipeline: false abstentions {np.mean(refused[answerable]):.3f}, "
          f"abstention recall {np.mean(refused[~answerable]):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Gold matching: does a text hold a gold span, and is an answer right? Used
to pick training examples, fit the calibration and score evaluations.

    >>> contains_gold("It is often worse at night.", ["worse at night"])
    True
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field

from qa.language.text import norm


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
    first: bool = False  # the first unit alone (or the urgent notice shown above it) holds a gold span
    f1: float = 0.0
    cited_right: bool | None = None
    cause: str = ""
    extra: dict = field(default_factory=dict)


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
    first = [answer["urgent"] or "", answer["units"][0]["text"] if answer["units"] else ""]
    result.first = any(contains_gold(text, item["answers"]) for text in first if text)
    result.f1 = max((token_f1(u["text"], g) for u in answer["units"] for g in item["answers"]), default=0.0)
    holders = [u for u in answer["units"] if contains_gold(u["text"], item["answers"])]
    if holders:
        quotes = {c["n"]: c["quote"] for c in answer["citations"]}
        result.cited_right = all(contains_gold(quotes[u["citation"]], item["answers"]) for u in holders)
    if not result.correct:
        result.cause = "retrieval miss (no gold span in the top 5)" if not any(result.ranks[:5]) else "answer selection missed the gold span"
    return result

"""Fitting the confidence: Platt scaling of the answer model's raw score and
the abstention threshold, on the dev split. What it fits is read by
qa.answering.calibration.

    >>> fitted = calibrate(assistant, dev_items)
    >>> fitted.save(folder)
"""

from __future__ import annotations

import math

import numpy as np

from qa.answering.calibration import Calibration
from qa.training.gold import Result, judge

MAX_FALSE_ABSTENTIONS = 0.05  # on dev: the threshold may refuse at most this share of answerable questions


def fit_platt(raw: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """(a, b) so that sigmoid(a * raw + b) estimates P(right), by maximum likelihood."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), right.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def choose_threshold(confidence: np.ndarray, answerable: np.ndarray, refused_anyway: np.ndarray | None = None) -> float:
    """The lowest threshold that refuses as many unanswerable questions as any
    threshold refusing at most MAX_FALSE_ABSTENTIONS of the answerable ones."""
    by_rule = np.zeros_like(answerable, dtype=bool) if refused_anyway is None else refused_anyway

    def refused(t: float) -> np.ndarray:
        return by_rule | (confidence < t)

    steps = np.round(np.arange(0.0, 1.0, 0.01), 2)
    allowed = [t for t in steps if np.mean(refused(t)[answerable]) <= MAX_FALSE_ABSTENTIONS]
    if not allowed:
        return 0.0
    most = np.mean(refused(max(allowed))[~answerable]) if (~answerable).any() else 0.0
    return float(min(t for t in allowed if not (~answerable).any() or np.mean(refused(t)[~answerable]) >= most))


def raw_outcomes(assistant, items: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(raw score, right, answerable, refused whatever the score) per item, the
    whole pipeline run with the threshold off."""
    open_door = assistant.replace(settings=assistant.settings.with_(abstain_below=0.0), calibration=Calibration(1.0, 0.0, 0.0, "raw"))
    rows = []
    for item in items:
        answer = open_door.ask(item["question"], item["history"])
        p = min(max(answer.confidence, 1e-9), 1 - 1e-9)
        right = judge(Result(item, answer.to_json(), [], 0.0)).correct and item["answerable"]
        rows.append((math.log(p / (1 - p)), right, item["answerable"], answer.abstained))
    raw, right, answerable, refused = (np.array(column) for column in zip(*rows))
    return raw.astype(float), right.astype(bool), answerable.astype(bool), refused.astype(bool)


def calibrate(assistant, items: list[dict], fitted_on: str = "dev") -> Calibration:
    """Platt scaling and the abstention threshold, fitted on these items."""
    raw, right, answerable, refused = raw_outcomes(assistant, items)
    a, b = fit_platt(raw[~refused], right[~refused])
    fitted = Calibration(a, b, 0.0, fitted_on)
    confidence = np.array([fitted.probability(r) for r in raw])
    return Calibration(a, b, choose_threshold(confidence, answerable, refused), fitted_on)

"""Confidence: the answer model's raw score mapped to the chance the answer is
right (Platt scaling), and the abstention threshold. Both are fitted on the
dev split by `qa calibrate` and stored beside the model they calibrate.

    >>> calibration = load_calibration(Path("models/bonemets-minilm"))
    >>> calibration.probability(raw)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.errors import AnswerModelError

CALIBRATION_FILE = "calibration.json"
MAX_FALSE_ABSTENTIONS = 0.05  # on dev: the threshold may refuse at most this share of answerable questions


@dataclass(frozen=True)
class Calibration:
    """sigmoid(a * raw + b) is the confidence; below `threshold` the assistant abstains."""

    a: float
    b: float
    threshold: float
    fitted_on: str = "dev"

    def probability(self, raw: float) -> float:
        z = max(-30.0, min(30.0, self.a * raw + self.b))
        return 1.0 / (1.0 + math.exp(-z))

    def save(self, folder: Path) -> None:
        (folder / CALIBRATION_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def load_calibration(folder: Path) -> Calibration:
    path = folder / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        calibration = Calibration(float(data["a"]), float(data["b"]), float(data["threshold"]), str(data["fitted_on"]))
    except FileNotFoundError as exc:
        raise AnswerModelError(f"no calibration at {path}: fit one with `qa calibrate`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AnswerModelError(f"{path} is damaged ({exc}): refit it with `qa calibrate`") from exc
    if not 0.0 <= calibration.threshold <= 1.0:
        raise AnswerModelError(f"{path}: threshold must be in [0, 1]: refit it with `qa calibrate`")
    return calibration


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


def raw_outcomes(assistant, items: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(raw score, right, answerable, refused whatever the score) per item, the
    whole pipeline run with the threshold off."""
    from qa.evaluate import Result, judge
    from qa.pipeline import Assistant

    open_door = Assistant(
        assistant.index, assistant.embedder, assistant.settings.with_(abstain_below=0.0),
        assistant.answer_model, Calibration(1.0, 0.0, 0.0, "raw"), assistant.reader.memory,
    )
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


def run_calibrate(args, settings) -> int:
    """Entry point of `qa calibrate`: fit on the dev split, write beside the model."""
    from qa.evaluate import load_set
    from qa.pipeline import Assistant

    items = load_set(args.qset, "dev")
    if not items:
        raise ValueError(f"{args.qset} has no dev items to calibrate on")
    folder = settings.answer_model()
    placeholder = Calibration(1.0, 0.0, 0.0, "raw")
    if not (folder / CALIBRATION_FILE).is_file():
        placeholder.save(folder)  # the assistant needs one to load; replaced below
    assistant = Assistant.load(settings.with_(abstain_below=0.0), progress=True)
    fitted = calibrate(assistant, items)
    fitted.save(folder)
    print(f"wrote {folder / CALIBRATION_FILE}: confidence = sigmoid({fitted.a:.3f} * raw + {fitted.b:.3f}), "
          f"abstain below {fitted.threshold:.2f} (fitted on {len(items)} dev questions)")
    from qa.evaluate import metrics, run_items
    from qa.train import record_dev_metrics

    calibrated = Assistant(assistant.index, assistant.embedder, settings, assistant.answer_model, fitted, assistant.reader.memory)
    figures = metrics(run_items(calibrated, items, progress=False))
    record_dev_metrics(folder, figures)
    print("dev: " + ", ".join(f"{k} {figures[k]:.3f}" for k in DEV_KEYS if figures.get(k) is not None))
    return 0


DEV_KEYS = ("answer accuracy", "hit@5", "follow-up accuracy", "false abstentions", "abstention recall", "ECE")

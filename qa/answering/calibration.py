"""Confidence: the answer model's raw score and the reader's best logit mapped
to the chance the answer is right (Platt scaling), and the abstention threshold. Both are fitted on the
dev split by `qa calibrate` and stored beside the model they calibrate.

    >>> calibration = load_calibration(Path("models/bonemets-minilm"))
    >>> calibration.probability(raw)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import AnswerModelError
from qa.files import require_finite

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """sigmoid(a * raw + reader * best + b) is the confidence, `best` the
    reader's best logit (0 without a reader); below `threshold` the assistant abstains."""

    a: float
    b: float
    threshold: float
    fitted_on: str = "dev"
    reader: float = 0.0
    reader_sha256: str = ""  # the reader it was fitted with: another one is refused

    def probability(self, raw: float, best: float = 0.0) -> float:
        z = max(-30.0, min(30.0, self.a * raw + self.reader * best + self.b))
        return 1.0 / (1.0 + math.exp(-z))

    def save(self, folder: Path) -> None:
        (folder / CALIBRATION_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


# The answer model's raw score as the confidence, no threshold: what a just-trained
# model reads until `qa calibrate` fits one, and what an ablation refits from.
RAW = Calibration(1.0, 0.0, 0.0, "raw")


def load_calibration(folder: Path) -> Calibration:
    path = folder / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        calibration = Calibration(
            float(data["a"]), float(data["b"]), float(data["threshold"]), str(data["fitted_on"]),
            float(data.get("reader", 0.0)), str(data.get("reader_sha256", "")),
        )
    except FileNotFoundError as exc:
        raise AnswerModelError(f"no calibration at {path}: fit one with `qa calibrate`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AnswerModelError(f"{path} is damaged ({exc}): refit it with `qa calibrate`") from exc
    require_finite((calibration.a, calibration.b, calibration.threshold, calibration.reader), path, "qa calibrate")
    if not 0.0 <= calibration.threshold <= 1.0:
        raise AnswerModelError(f"{path}: threshold must be in [0, 1]: refit it with `qa calibrate`")
    return calibration

"""Confidence: the answer model's raw score and the reader's best logit mapped
to the chance the answer is right (Platt scaling), and the abstention threshold. Both are fitted on the
dev split by `qa calibrate` and stored beside the model they calibrate.

Dev is written about the texts the models were trained on. On a document
they never saw (a clinic's own leaflet) the same scores are right less
often, so the confidence shown for an answer led by such a document is
lowered by one more fitted number (`unseen_offset`, fitted on the held-out
writer's leaflets), and so is the threshold: the same answers are given or
refused, and the number shown is the chance they are right there.

    >>> calibration = load_calibration(Path("models/bonemets-minilm"))
    >>> calibration.probability(raw)
    >>> calibration.shown(confidence, familiar=False)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import AnswerModelError
from qa.files import require_finite

CALIBRATION_FILE = "calibration.json"
# What the chat calls "high confidence" (qa.apps.chat); `make eval` reports how often such answers are right.
HIGH_CONFIDENCE = 0.8
# The share of the answer model's logit added to the reader's in a unit's score,
# where calibration.json names none (fitted before `qa calibrate` chose it).
# Chosen by hand on dev and the held-out leaflets with the 2026-12-03 reader:
# 2 / 3 / 4.5 gave dev first units 107 / 109 / 108 of 126, and on the four blind
# leaflet sets answers 1,375 / 1,369 / 1,361 of 1,792. A reader trained later
# may rank best with its own share (a soup of 2026-12-06: dev answers 0.889 at
# 3, 0.905 at 5): `qa calibrate --choose-blend` chooses it (qa.training.calibrate.BLENDS).
READER_BLEND = 3.0


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
    # Added to the confidence's log-odds when the answer's first unit comes from a
    # document the models were not trained on; 0: no lowering (fitted before it existed).
    unseen_offset: float = 0.0
    unseen_fitted_on: str = ""
    # Fingerprints (`document_fingerprints`) of the documents the training questions were written about.
    trained_documents: tuple[str, ...] = ()
    # The blend of reader and answer model the confidence was fitted with
    # (Settings.reader_blend, unless set, is this).
    reader_blend: float = READER_BLEND

    def probability(self, raw: float, best: float = 0.0) -> float:
        return _sigmoid(self.a * raw + self.reader * best + self.b)

    def shown(self, confidence: float, familiar: bool) -> float:
        """The confidence to show: as fitted on dev for a document the models were
        trained on, lowered by `unseen_offset` (in log-odds) for one they never saw."""
        if familiar or not self.unseen_offset or not 0.0 < confidence < 1.0:
            return confidence
        return _sigmoid(math.log(confidence / (1.0 - confidence)) + self.unseen_offset)

    def save(self, folder: Path) -> None:
        (folder / CALIBRATION_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def document_fingerprints(chunks) -> dict[str, str]:
    """doc_id -> a fingerprint of its text: the words of its units in reading order
    (a unit repeated by overlapping chunks once), so the same text indexed again
    with other chunk sizes or line breaks gives the same fingerprint."""
    units: dict[str, dict[tuple[int, int], str]] = {}
    for chunk in chunks:
        for unit in chunk.units:
            units.setdefault(chunk.doc_id, {})[(unit.span.start, unit.span.end)] = unit.text
    fingerprints = {}
    for doc_id, by_span in units.items():
        text = " ".join(by_span[span] for span in sorted(by_span))
        words = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
        fingerprints[doc_id] = hashlib.sha256(words.encode()).hexdigest()[:16]
    return fingerprints


def familiar_documents(chunks, calibration: Calibration) -> frozenset[str]:
    """The doc_ids of the index whose text the models were trained on."""
    trained = set(calibration.trained_documents)
    return frozenset(doc_id for doc_id, fingerprint in document_fingerprints(chunks).items() if fingerprint in trained)


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
            float(data.get("unseen_offset", 0.0)), str(data.get("unseen_fitted_on", "")),
            tuple(str(f) for f in data.get("trained_documents", ())), float(data.get("reader_blend", READER_BLEND)),
        )
    except FileNotFoundError as exc:
        raise AnswerModelError(f"no calibration at {path}: fit one with `qa calibrate`") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AnswerModelError(f"{path} is damaged ({exc}): refit it with `qa calibrate`") from exc
    require_finite((calibration.a, calibration.b, calibration.threshold, calibration.reader, calibration.unseen_offset,
                    calibration.reader_blend), path, "qa calibrate")
    if not 0.0 <= calibration.threshold <= 1.0:
        raise AnswerModelError(f"{path}: threshold must be in [0, 1]: refit it with `qa calibrate`")
    if calibration.reader_blend < 0.0:
        raise AnswerModelError(f"{path}: reader_blend must be 0 or more: refit it with `qa calibrate`")
    return calibration

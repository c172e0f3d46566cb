"""The model card: what the trained model is, how it was made, and its dev
figures (training.json and README.md beside the weights)."""

from __future__ import annotations

import json
from pathlib import Path

DEV_KEYS = ("answer accuracy", "first-unit accuracy", "hit@5", "follow-up accuracy", "false abstentions", "abstention recall", "ECE")


CARD = """# bonemets-minilm

all-MiniLM-L6-v2 fine-tuned to find the sentence of the bone-metastasis
sources that answers a patient's or caregiver's question, with the answer
model (`policy.json`), its calibration (`calibration.json`) and the memory of
its training questions (`memory.npy`, `memory.json`) fitted for it, and the
urgent-sign triage (`triage.json`). The weights ship as an int8 ONNX export
(`model.onnx`, `embedder.json`: mean pooling, normalised) that `qa` runs with
ONNX Runtime; `qa train` keeps the torch weights in `.cache/train/final`.
The calibration also reads the cross-encoder reader in `models/reader`.

| | |
|---|---|
{rows}

Reproduce with `make train` (fine-tuning and answer model, triage, reader,
then `qa calibrate --choose-blend` on the dev split). The test split of `eval/questions.jsonl` is never read.
"""


def record_dev_metrics(folder: Path, figures: dict) -> None:
    """Put the calibrated model's dev metrics in its card (training.json and README.md)."""
    path = folder / "training.json"
    card = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    card["dev metrics"] = {k: round(figures[k], 3) for k in DEV_KEYS if figures.get(k) is not None}
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    rows = "\n".join(f"| {k} | {_cell(v)} |" for k, v in card.items())
    (folder / "README.md").write_text(CARD.format(rows=rows), encoding="utf-8")


def _cell(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)

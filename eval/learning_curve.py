"""Learning curve: fine-tune the embedding model on 25% and 50% of the training
questions (same seed and settings as the shipped model, whose card gives them),
give each the memory of the questions it saw, read it with the shipped answer
model and calibration, and measure dev and test. The 100% point is the shipped
model. Writes eval/learning_curve.json; `make eval` puts it in the report.

    .venv/bin/python eval/learning_curve.py      (make learning-curve; about 20 minutes on 2 cores)
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

from qa.answering.answer import POLICY_FILE
from qa.answering.calibration import CALIBRATION_FILE
from qa.evaluation.measure import load_set, metrics, run_items
from qa.index.embed import Embedder, bundled_model_path
from qa.settings import DEFAULT_MODEL, Settings
from qa.training.train import (
    TrainConfig,
    bare_assistant,
    fine_tune,
    heading_examples,
    mine_examples,
    subset,
    write_memory,
)
from qa.training.trainset import load_items

SHARES = (0.25, 0.5)
KEYS = ("answer accuracy", "hit@5", "follow-up accuracy", "false abstentions", "abstention recall", "ECE")


def evaluate(settings: Settings, items: list[dict]) -> dict:
    from qa.answering.assistant import Assistant

    assistant = Assistant.load(settings)
    results = run_items(assistant, items, progress=False)
    return {split: {k: metrics([r for r in results if r.item["split"] == split]).get(k) for k in KEYS} for split in ("dev", "test")}


def main() -> int:
    card = json.loads((DEFAULT_MODEL / "training.json").read_text(encoding="utf-8"))
    config = TrainConfig(**card["config"])
    data = Path(card["training data"])
    items = load_items(data)
    questions = load_set(Path("eval/questions.jsonl"), "all")
    work = Path(tempfile.mkdtemp(prefix="qa-curve-"))
    points = []
    try:
        base = bare_assistant(Settings(index_dir=work / "index-base"), Embedder(bundled_model_path()))
        for share in SHARES:
            rng = random.Random(config.seed)
            chosen = subset(items, share, config.seed)
            examples = mine_examples(base, chosen, rng, config.hard_negatives) + heading_examples(base.index, rng, config.hard_negatives)
            folder = work / f"model-{share}"
            print(f"{share:.0%}: {len(chosen)} questions, {len(examples)} examples", file=sys.stderr, flush=True)
            fine_tune(bundled_model_path(), examples, folder, config)
            for name in (POLICY_FILE, CALIBRATION_FILE):
                shutil.copy(DEFAULT_MODEL / name, folder / name)
            write_memory(folder, chosen, Settings(index_dir=work / f"index-memory-{share}"))
            settings = Settings(index_dir=work / f"index-{share}", model_path=folder)
            points.append({"fraction": share, "questions": len(chosen), **evaluate(settings, questions)})
        shipped = Settings(index_dir=work / "index-full", model_path=DEFAULT_MODEL)
        points.append({"fraction": 1.0, "questions": len(items), **evaluate(shipped, questions)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path("eval/learning_curve.json")
    out.write_text(json.dumps({"training data sha256": card["training data sha256"], "points": points}, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

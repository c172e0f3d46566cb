"""Leaflets no model trained on: each set answered from its own index, as a
clinic's own leaflets would be. The eval set is written about the five texts
the models trained on; these sets (short leaflets on other cancer-care topics,
each by writers whose questions no model read) show how the assistant answers
from documents it never saw, and whether its confidence means the same there.

    qa eval --blind     # writes eval/blind.md with --report eval

A folder the reader or the answer model was trained on (its card names it)
counts only for its held-out writer's leaflets.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from qa.answering.calibration import HIGH_CONFIDENCE as HIGH
from qa.evaluation.measure import metrics, run_items, table
from qa.training.leaflets import HELD_OUT_WRITER, leaflet_assistant, leaflet_files
from qa.training.trainset import load_items

FOLDERS = (Path("train/leaflets"), Path("train/leaflets-next"), Path("train/leaflets-unseen"), Path("train/leaflets-more"))
KEYS = ["n", "answer accuracy", "first-unit accuracy", "false abstentions", "abstention recall", "follow-up accuracy",
        "ECE", "high confidence right"]
INTRO = (
    "The eval set is written about the five texts the models trained on. These sets are short leaflets on other "
    "cancer-care topics, by writers whose questions no model read (`train/leaflets-next`, `-unseen` and `-more` "
    "whole; of `train/leaflets`, which the reader and the answer model learned from, only the held-out writer "
    f"`{HELD_OUT_WRITER}`): how the assistant answers from documents it never saw, as a clinic's own leaflets, "
    "and whether its confidence means the same there."
)


def trained_on(assistant) -> set[str]:
    """The leaflet folders the reader's and the answer model's cards say they learned from."""
    folders: set[str] = set()
    cards = [assistant.settings.answer_model() / "training.json"]
    if assistant.unit_reader is not None:
        cards.append(Path(assistant.unit_reader.folder) / "reader.json")
    for card in cards:
        try:
            data = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        named = data.get("training data", [])
        folders.update([named] if isinstance(named, str) else named)
        if data.get("answer model leaflets"):
            folders.add(data["answer model leaflets"])
    return {str(Path(f)) for f in folders}


def blind_sets(assistant, folders=FOLDERS) -> dict[str, list[Path]]:
    """{set name: its leaflets' question files}, each set a folder no model
    trained on, or a trained-on folder's held-out writer."""
    seen = trained_on(assistant)
    sets = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        if str(folder) in seen:
            files = leaflet_files(folder, HELD_OUT_WRITER, held_out=True)
            name = f"{folder.name}, writer {HELD_OUT_WRITER}"
        else:
            files, name = leaflet_files(folder, "", held_out=False), folder.name
        if files:
            sets[name] = files
    return sets


def answer_leaflets(assistant, files: list[Path], base=None) -> list:
    """The questions of these leaflets answered from an index of the leaflets alone,
    with `assistant`'s reader and calibration, the rest as `base` (default: the same)."""
    base = assistant if base is None else base
    items = [item for path in files for item in load_items(path)]
    with tempfile.TemporaryDirectory() as work:
        leaflets = leaflet_assistant(base.settings, base.embedder, Path(work), files,
                                     reader=assistant.unit_reader, calibration=assistant.calibration)
        return run_items(leaflets, items, progress=False)


def run_blind(assistant, folders=FOLDERS) -> dict[str, dict]:
    """{set name: metrics}, and the sets together."""
    figures, together = {}, []
    for name, files in blind_sets(assistant, folders).items():
        results = answer_leaflets(assistant, files)
        figures[name] = with_high(metrics(results), results)
        together += results
    if len(figures) > 1:
        figures["all together"] = with_high(metrics(together), together)
    return figures


def with_high(figures: dict, results) -> dict:
    """The share of answers shown with high confidence that are right."""
    high = [r.correct for r in results if not r.answer["abstained"] and r.answer["confidence"] >= HIGH]
    return {**figures, "high confidence right": sum(high) / len(high) if high else None}


def report(figures: dict, assistant) -> str:
    calibration = assistant.calibration
    lines = ["# Leaflets no model trained on", "", INTRO, "",
             "Each set's leaflets are read from an index of their own, by the shipped models. *High confidence right*: "
             f"of the answers shown with confidence {HIGH} or more (the chat's \"high confidence\"), the share that hold a gold span.", ""]
    if calibration.unseen_offset:
        lines += [f"On a document no model trained on the confidence shown is lowered by {-calibration.unseen_offset:.2f} "
                  f"in log-odds, fitted by `qa calibrate` on {calibration.unseen_fitted_on}: that set's calibration "
                  "error (ECE) is no measure of it, the other sets' are.", ""]
    lines += [table(figures, KEYS), ""]
    return "\n".join(lines)

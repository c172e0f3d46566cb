"""The training set: questions written from the corpus (never from the eval
file), in the eval format, with the answer units each gold span lands in.

    >>> items = load_items(Path("train/questions.jsonl"))
    >>> gold_unit_ids(index, items[0]["answers"])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.answering.memory import Memory
from qa.errors import TrainingDataError
from qa.files import QUESTION_FIELDS, read_jsonl, write_jsonl
from qa.index.store import Index
from qa.language.text import norm

REQUIRED = QUESTION_FIELDS


def load_items(path: Path) -> list[dict]:
    """Every item of a question file in the eval format; the file and line name any fault."""
    if not path.is_file():
        raise TrainingDataError(f"no question file at {path}: write one in the format of eval/README.md")
    return read_jsonl(path, REQUIRED, TrainingDataError)


class GoldUnits:
    """Finds the units that hold a gold span: every unit's folded text, once per index."""

    def __init__(self, index: Index) -> None:
        self.texts = sorted((uid, norm(unit.text)) for uid, (_, unit) in index.units.items())

    def __call__(self, answers: list[str]) -> list[int]:
        """The units that hold a gold span, or that a longer span covers, in index order."""
        spans = [norm(a) for a in answers]
        return [uid for uid, text in self.texts if any(span in text or (len(text) > 20 and text in span) for span in spans)]


def gold_unit_ids(index: Index, answers: list[str]) -> list[int]:
    """The units of the index that hold one of these gold spans."""
    return GoldUnits(index)(answers)


def unit_records(index: Index, uids: list[int]) -> list[dict]:
    """Where each unit lies in its source file: file name and character offsets."""
    located = [index.units[uid] for uid in uids]
    return [{"file": chunk.file, "start": unit.span.start, "end": unit.span.end} for chunk, unit in located]


def record_gold_units(sources: list[Path], out: Path, index: Index) -> dict:
    """Join question files (the writers' parts, or the set itself to refresh it)
    into one training set with its gold units recorded; returns counts."""
    items = []
    gold = GoldUnits(index)
    for path in sources:
        for item in load_items(path):
            item = {key: item[key] for key in (*REQUIRED, "long") if key in item}
            item["gold_units"] = unit_records(index, gold(item["answers"])) if item["answerable"] else []
            items.append(item)
    write_jsonl(out, items)
    return {
        "items": len(items),
        "answerable": sum(i["answerable"] for i in items),
        "followup": sum(i["kind"] == "followup" for i in items),
        "long": sum(bool(i.get("long")) for i in items),
        "unanswerable": sum(not i["answerable"] for i in items),
        "no gold unit": sum(i["answerable"] and not i["gold_units"] for i in items),
    }


def build_memory(assistant, items: list[dict]) -> Memory:
    """The memory of these questions as `assistant` reads them: vectors of the
    resolved queries, the units that hold their gold spans."""
    gold_units = GoldUnits(assistant.index)
    texts = {uid: unit.text for uid, (_, unit) in assistant.index.units.items()}
    queries = [assistant.prepare(item["question"], item["history"]).query for item in items]
    vectors = assistant.embedder.encode(queries)
    units = tuple(tuple(texts[uid] for uid in gold_units(item["answers"])) if item["answerable"] else () for item in items)
    answerable = np.array([bool(i["answerable"]) for i in items])
    return Memory(np.asarray(vectors, dtype=np.float32), answerable, units, assistant.embedder.fingerprint)

"""Leave-one-document-out: how the assistant answers from a document it never
trained on, as it must for a clinic's own leaflet.

For each document of the corpus the reader is trained without it (its
questions and its units left out; `qa train-reader --leave-out`) and the
question memory, where the settings turn it on, is rebuilt without the
training questions about it; then the eval questions only that document
answers are scored. Two copies of one
article (most sentences shared) count as one document. The embedding model
and the answer model's few weights are the shipped ones (refitting them per
document takes about 40 minutes each on 2 cores): their share of what they
learned from the document is not taken away, so these figures flatter a little.

    qa eval --lodo          # readers cached in .cache/lodo, keyed by data and config
    qa eval --lodo --lodo-folds 2   # two readers, each without a fold of documents

It also reports a reader trained without the training leaflets (the ablation
of the extra documents) on dev, test and the held-out writer's leaflets. A
new ReaderConfig field changes every key: rename cached folders whose readers
it does not change, or let them retrain.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qa.evaluation.measure import metrics, run_items, table
from qa.language.text import norm
from qa.training.leaflets import HELD_OUT_WRITER
from qa.training.trainset import GoldUnits, load_items

KEYS = ["n", "answer accuracy", "first-unit accuracy", "false abstentions", "follow-up accuracy"]
COPY_SHARE = 0.5  # two files sharing more than this share of their sentences are one document


def documents(index) -> list[tuple[str, frozenset[str]]]:
    """(name, files) per document: a file and its copies."""
    texts: dict[str, set[str]] = {}
    for chunk, unit in index.units.values():
        texts.setdefault(chunk.file, set()).add(norm(unit.text))
    groups: list[set[str]] = []
    for file in sorted(texts):
        home = next((g for g in groups if any(_copies(texts[file], texts[other]) for other in g)), None)
        if home is None:
            groups.append({file})
        else:
            home.add(file)
    return [("+".join(sorted(f.split("_")[0] for f in g)), frozenset(g)) for g in groups]


def _copies(a: set[str], b: set[str]) -> bool:
    return bool(a and b) and len(a & b) / min(len(a), len(b)) > COPY_SHARE


def about(gold: GoldUnits, index, item: dict, files: frozenset[str]) -> bool:
    """An answerable question whose every gold unit lies in these files."""
    if not item["answerable"]:
        return False
    found = {index.units[uid][0].file for uid in gold(item["answers"])}
    return bool(found) and found <= files


def reader_for(settings, files: frozenset[str], cache: Path, log, config=None) -> Path:
    """The reader trained without these files (and with `config`, else the
    shipped one's): from the cache, else trained now (40 to 70 minutes on 2 cores)."""
    from qa.answering.reader import READER_FILE
    from qa.training.reader import READER_DATA, ReaderConfig, build_reader

    config = config or ReaderConfig()
    if config.teacher and files:
        # A student learns its teacher's logits: the teacher must not have seen
        # these files either, so it is the teacher's own config trained without them.
        from dataclasses import fields, replace

        card = json.loads((Path(config.teacher) / READER_FILE).read_text(encoding="utf-8"))
        known = {f.name for f in fields(ReaderConfig)}
        taught_by = ReaderConfig(**{k: v for k, v in card["config"].items() if k in known})
        config = replace(config, teacher=str(reader_for(settings, files, cache, log, taught_by)))
    data, leaflets = READER_DATA, Path("train/leaflets")
    digest = hashlib.sha256(json.dumps([sorted(files), repr(config)]).encode())
    for path in [*data, *sorted(leaflets.iterdir())]:
        digest.update(path.read_bytes())
    folder = cache / digest.hexdigest()[:16]
    if not (folder / READER_FILE).is_file():
        log(f"training a reader without {', '.join(sorted(files))}")
        # A soup's members are kept as they finish: its readers take hours, more than a session.
        members = folder.with_name(folder.name + ".members") if config.soup > 1 else None
        build_reader(settings, config, data, leaflets, folder, files, log=log, members=members)
    return folder


def without_reader(assistant, dev_items: list[dict]):
    """The answer model alone, its confidence calibrated so on dev (the ablation)."""
    from qa.training.calibrate import recalibrated

    return recalibrated(assistant, dev_items, reader=None)


def without_leaflets(assistant, dev_items: list[dict], settings, cache: Path, log):
    """The assistant with a reader trained on the five texts' questions alone
    (no training leaflets; cached like the leave-one-document-out readers),
    its confidence calibrated on dev (the ablation)."""
    from dataclasses import replace

    from qa.answering.reader import load_reader
    from qa.training.calibrate import recalibrated
    from qa.training.reader import ReaderConfig

    reader = load_reader(reader_for(settings, frozenset(), cache, log, replace(ReaderConfig(), leaflets=False)))
    return recalibrated(assistant, dev_items, reader=reader)


def run_new_leaflets(assistant, plain, leaflets: Path = Path("train/leaflets"), writer: str = HELD_OUT_WRITER, others: dict | None = None) -> dict:
    """The leaflets of the held-out writer, each a document nothing here was
    trained on (not the embedding model, not the answer model, not the reader),
    answered as a clinic's own leaflets would be: {run: metrics}."""
    from qa.evaluation.blind import answer_leaflets
    from qa.training.leaflets import leaflet_files

    files = leaflet_files(leaflets, writer, held_out=True)
    runs = {"reader": assistant, **(others or {}), "no reader": plain}
    return {run: metrics(answer_leaflets(a, files, base=assistant)) for run, a in runs.items()}


def folds_of(sizes: dict[str, int], n: int) -> list[list[str]]:
    """The documents (name: eval questions about it) in n folds of about equal
    size, largest first, each to the lightest fold; 0, or as many as there
    are documents: a fold per document."""
    if n <= 0 or n >= len(sizes):
        return [[name] for name in sizes]
    folds: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for name in sorted(sizes, key=lambda d: (-sizes[d], d)):
        lightest = min(range(n), key=lambda i: (load[i], i))
        folds[lightest].append(name)
        load[lightest] += sizes[name]
    return [sorted(fold) for fold in folds]


def run_lodo(
    assistant, eval_items: list[dict], settings, cache: Path, log=print, folds: int = 0, ablation: bool = True,
) -> tuple[dict, str]:
    """Per document and split: metrics with the reader and memory trained
    without it, and without the reader (the answer model alone, memory
    without it). `folds` > 0: one reader per fold of documents, trained
    without all of them (fewer readers to train; harder, as each reader also
    misses the fold's other documents). `ablation`: also the reader trained
    without the leaflets (one more reader to train). Returns (figures, Markdown report)."""
    from qa.answering.reader import load_reader
    from qa.training.trainset import build_memory

    index = assistant.index
    plain = without_reader(assistant, [i for i in eval_items if i["split"] == "dev"])
    gold = GoldUnits(index)
    training = load_items(Path("train/questions.jsonl"))
    files_of = dict(documents(index))
    about_doc = {name: [i for i in eval_items if about(gold, index, i, files)] for name, files in files_of.items()}
    about_doc = {name: items for name, items in about_doc.items() if items}
    chosen = folds_of({name: len(items) for name, items in about_doc.items()}, folds)
    figures: dict = {}
    for fold in chosen:
        files = frozenset().union(*(files_of[name] for name in fold))
        memory = assistant.reader.memory  # empty unless Settings.question_memory
        if settings.question_memory:
            memory = build_memory(assistant, [i for i in training if not about(gold, index, i, files)])
        reader = load_reader(reader_for(settings, files, cache, log))
        runs = {
            "reader": assistant.replace(memory=memory, reader=reader),
            "no reader": plain.replace(memory=memory),
        }
        for name in fold:
            for run, held_out in runs.items():
                results = run_items(held_out, about_doc[name], progress=False)
                for split in ("dev", "test"):
                    in_split = [r for r in results if r.item["split"] == split]
                    if in_split:
                        figures.setdefault(run, {}).setdefault(split, {})[name] = metrics(in_split)
            log(f"{name}: {len(about_doc[name])} questions")
    dev_items = [i for i in eval_items if i["split"] == "dev"]
    others = {NO_LEAFLETS: without_leaflets(assistant, dev_items, settings, cache, log)} if ablation else {}
    leaflets = run_new_leaflets(assistant, plain, others=others)
    five = {}  # the ablation beside the shipped reader, on the five texts
    if others:
        for run, a in {"reader": assistant, **others}.items():
            results = run_items(a, eval_items, progress=False)
            for split in ("dev", "test"):
                five[f"{run}, {split}"] = metrics([r for r in results if r.item["split"] == split])
    return figures, report(figures, leaflets, five, [fold for fold in chosen if len(fold) > 1])


NEW_LEAFLETS = (
    "The 8 leaflets of writer `lc` in train/leaflets, with their 320 questions: documents nothing here was "
    "trained on (not the embedding model, not the answer model, not the reader), answered from their own "
    "index as a clinic's own leaflets would be. `qa calibrate` fits how much lower the confidence is on "
    "documents no model trained on on these questions, so the shipped reader's ECE here is no measure of it "
    "(eval/blind.md has three more sets); the other rows are recalibrated on dev alone."
)
FOLDS = (
    "Left out together (`qa eval --lodo-folds`), to train fewer readers: {folds}. Each of these documents' "
    "questions is answered by a reader that never saw it nor the others left out with it, which is harder "
    "than leaving it out alone."
)
NO_LEAFLETS = "reader trained without the leaflets"
ABLATION = (
    "The reader trained as the shipped one is, but on the five texts' training questions alone "
    "(`qa train-reader --no-leaflets`, its confidence recalibrated on dev): what the training leaflets add, "
    "on the five texts (dev and test) and on the new leaflets above."
)
LEAFLET_KEYS = ["n", "answer accuracy", "first-unit accuracy", "false abstentions", "abstention recall",
                "follow-up accuracy", "ECE"]


def report(figures: dict, leaflets: dict | None = None, five: dict | None = None, together: list | None = None) -> str:
    lines = ["# Documents never trained on", "", "## Leave-one-document-out", "", __doc__.split("\n\n")[1].replace("\n", " "), ""]
    if together:
        lines += [FOLDS.format(folds="; ".join(", ".join(fold) for fold in together)), ""]
    for run, splits in figures.items():
        for split, docs in splits.items():
            rows = dict(docs)
            rows["mean"] = {k: _mean([m.get(k) for m in docs.values()]) for k in KEYS}
            lines += [f"### {run}, {split} split", "", table(rows, KEYS), ""]
    if leaflets:
        lines += ["## New leaflets", "", NEW_LEAFLETS, "", table(leaflets, LEAFLET_KEYS), ""]
    if five:
        lines += ["## Without the training leaflets", "", ABLATION, "", table(five, LEAFLET_KEYS), ""]
    return "\n".join(lines)


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None

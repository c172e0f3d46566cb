"""`qa eval` and `qa calibrate`: run the assistant over a question set, with
ablations, into a printed table and a report; fit the calibration on dev and
record the calibrated model's dev figures in its card.

Question set format (JSONL): see eval/README.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from qa.answering.calibration import CALIBRATION_FILE
from qa.evaluation.measure import HEADLINE, Result, load_set, metrics, run_items, table
from qa.files import write_jsonl, write_manifest
from qa.settings import Settings
from qa.training.calibrate import fit_calibration, recalibrated
from qa.training.leaflets import HELD_OUT_WRITER, leaflet_assistant, leaflet_files
from qa.training.trainset import load_items
from qa.training.card import DEV_KEYS, record_dev_metrics


def run_calibrate(args, settings) -> int:
    """Entry point of `qa calibrate`: fit on the dev split, write beside the model."""
    from qa.answering.assistant import Assistant

    items = load_set(args.qset, "dev")
    if not items:
        raise ValueError(f"{args.qset} has no dev items to calibrate on")
    folder = settings.answer_model()
    assistant = Assistant.load(settings.with_(abstain_below=0.0), progress=True, calibrated=False)
    held_out = leaflet_files(args.leaflets, HELD_OUT_WRITER, True) if args.leaflets.is_dir() else []
    leaflet_items = [item for path in held_out for item in load_items(path)]
    with tempfile.TemporaryDirectory() as work:
        leaflets = leaflet_assistant(assistant.settings, assistant.embedder, Path(work), held_out, reader=assistant.unit_reader) if held_out else None
        # A share given in the settings is kept, and without --choose-blend the one calibration.json names.
        choose = args.choose_blend and settings.reader_blend is None
        fitted = fit_calibration(assistant, items, load_items(args.data), leaflets, leaflet_items, choose=choose,
                                 leaflets_named=f"the held-out writer {HELD_OUT_WRITER}'s leaflets")
    fitted.save(folder)
    print(f"wrote {folder / CALIBRATION_FILE}: confidence = sigmoid({fitted.a:.3f} * raw + {fitted.reader:.3f} * reader + {fitted.b:.3f}), "
          f"abstain below {fitted.threshold:.2f}, reader_blend {fitted.reader_blend:g} (fitted on {len(items)} dev questions)")
    if held_out:
        print(f"  on documents the models never trained on: log-odds {fitted.unseen_offset:+.3f} "
              f"(fitted on the held-out writer's {len(leaflet_items)} leaflet questions; {len(fitted.trained_documents)} documents trained on)")
    else:
        print(f"  no held-out writer's leaflets in {args.leaflets}: the confidence is not lowered on documents the models never saw")

    calibrated = assistant.replace(settings=settings, calibration=fitted)
    figures = metrics(run_items(calibrated, items, progress=False))
    record_dev_metrics(folder, figures)
    write_manifest(folder, "qa calibrate")
    print("dev: " + ", ".join(f"{k} {figures[k]:.3f}" for k in DEV_KEYS if figures.get(k) is not None))
    return 0


ABLATIONS = {
    "bm25 only": {"retrieval": "bm25"},
    "dense only": {"retrieval": "dense"},
    "hybrid, no follow-up handling": {"followups": False},
}


TRAINED_PARTS_OFF = (
    "no fine-tuning (base MiniLM)",
    "no learned answer model (cosine only)",
    "no reader (answer model alone)",
)
# The question memory is off in the product (Settings.question_memory): the
# ablation switches it the other way.
MEMORY_ON = "with question memory (off in the product)"
MEMORY_OFF = "no question memory (as for added leaflets)"


def run_eval(args, settings: Settings) -> int:
    """Entry point of `qa eval`."""
    from qa.answering.assistant import Assistant

    items = load_set(args.qset, args.split)
    if not items:
        print(f"error: no items in {args.qset} for split {args.split}", file=sys.stderr)
        return 2
    assistant = Assistant.load(settings, progress=True)
    results = run_items(assistant, items)
    overall = metrics(results)
    print(table({"all": overall}, HEADLINE))
    if args.predictions is not None:
        write_jsonl(args.predictions, [{"id": r.item["id"], **r.answer, "correct": r.correct} for r in results])
    if args.report is not None:
        ablations = {} if args.no_ablations else run_ablations(assistant, items, load_set(args.qset, "dev"))
        from qa.evaluation.report import write_report
        from qa.evaluation.triage import other_topic_messages, triage_rows
        from qa.training.triage import load_messages

        messages = load_messages() if Path("train/triage").is_dir() else []
        triage = triage_rows(assistant, messages, other_topic_messages()) if messages else None
        path = write_report(args.report, args.qset, args.split, results, ablations, assistant, triage)
        print(f"report written to {path}", file=sys.stderr)
    if getattr(args, "blind", False):
        from qa.evaluation.blind import report as blind_report, run_blind

        from qa.evaluation.posts import report as posts_report, run_posts

        text = blind_report(run_blind(assistant), assistant)
        posts = posts_report(run_posts(assistant))
        text = f"{text}\n{posts}" if posts else text
        print(text)
        if args.report is not None:
            (args.report / "blind.md").write_text(text + "\n", encoding="utf-8")
    if getattr(args, "lodo", False):
        from qa.evaluation.lodo import run_lodo

        _, text = run_lodo(assistant, load_set(args.qset, "all"), settings, args.lodo_cache, log=_log, folds=getattr(args, "lodo_folds", 0),
                           ablation=not getattr(args, "no_ablations", False))
        print(text)
        if args.report is not None:
            (args.report / "lodo.md").write_text(text + "\n", encoding="utf-8")
    return 0


def _log(message: str) -> None:
    print(f"[lodo] {message}", file=sys.stderr, flush=True)


def run_ablations(assistant, items: list[dict], dev: list[dict]) -> dict[str, list[Result]]:
    """The same questions with each trained part, retrieval mode or follow-up
    handling switched off; `dev` recalibrates a variant whose scores change."""

    runs = {"full system": run_items(assistant, items, progress=False)}
    for name in (*TRAINED_PARTS_OFF, MEMORY_OFF if assistant.settings.question_memory else MEMORY_ON):
        runs[name] = run_items(part_off(assistant, name, dev), items, progress=False)
    for name, changes in ABLATIONS.items():
        variant = assistant.replace(settings=assistant.settings.with_(**changes))
        runs[name] = run_items(variant, items, progress=False)
    return runs


def part_off(assistant, name: str, dev: list[dict]):
    """The assistant with one trained part replaced, calibrated afresh on dev."""
    import tempfile

    from qa.answering.answer import cosine_only_model
    from qa.answering.memory import Memory, load_memory
    from qa.index.embed import Embedder, bundled_model_path
    from qa.index.store import build_index, load_index

    settings, embedder, index, model = assistant.settings, assistant.embedder, assistant.index, assistant.answer_model
    memory = assistant.reader.memory
    if name == "no fine-tuning (base MiniLM)":
        # The remembered questions' vectors belong to the fine-tuned model: none here.
        memory = Memory.empty()
        embedder = Embedder(bundled_model_path())
        settings = settings.with_(index_dir=Path(tempfile.mkdtemp(prefix="qa-ablation-")) / "index")
        build_index(settings, embedder, progress=False)
        index = load_index(settings, embedder)
    elif name == MEMORY_OFF:
        memory = Memory.empty(index.unit_vectors.shape[1])
    elif name == MEMORY_ON:
        memory = load_memory(settings.answer_model())
    elif name == "no reader (answer model alone)":
        return recalibrated(assistant, dev, reader=None)
    else:
        # Ranked by cosine alone; a second or third unit when its cosine is 0.5 or more.
        model = cosine_only_model(extra_unit_min=0.5)
    return recalibrated(assistant, dev, index=index, embedder=embedder, settings=settings, answer_model=model, memory=memory)

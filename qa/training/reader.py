"""`qa train-reader`: train the cross-encoder reader (qa.answering.reader) and
export it for ONNX Runtime, int8.

Each training question becomes a group: the resolved question, one unit that
answers it (when the sources do) and a few that do not, each shown in its
context. The hard negatives are the ones a reader must learn to tell apart:
the sentence right before or after the answer, and the units the current
answer model ranks highest that hold no gold span (same section, same topic,
another drug or treatment). An unanswerable question's group has negatives
only. The loss is a softmax over the group's logits and a fixed "nothing
here" logit (NULL_LOGIT), so scores mean the same across questions: that is
what answerability and confidence read.

The training questions come from READER_DATA (three files about the five texts) and
train/leaflets/ (48 leaflets on other cancer-care topics, read as a corpus of
their own), so the reader learns the task more than the five texts.
`--leave-out FILE` drops a corpus file's questions and units: the
leave-one-document-out measure (qa.evaluation.lodo) trains this way.

Seeded; on 2 CPU cores 40 to 70 minutes. The dev and test splits are never read.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa.answering.reader import MAX_LENGTH, NULL_LOGIT, reader_text, save_reader_card
from qa.training.export import export_reader
from qa.training.gold import contains_gold
from qa.training import numerics
from qa.training.leaflets import HELD_OUT_WRITER, leaflet_assistant, leaflet_files
from qa.training.soup import average, load_member, save_member
from qa.errors import TrainingDataError
from qa.training.trainset import GoldUnits, load_items
from qa.settings import TRAINING_TOP_K


# The questions about the five texts (`--data` replaces them): the first file and two
# rounds written for what it misread (grouped per file), as the shipped reader learned.
READER_DATA = (Path("train/questions.jsonl"), Path("train/questions-next.jsonl"), Path("train/questions-offtopic.jsonl"))


@dataclass(frozen=True)
class ReaderConfig:
    """Everything that shapes the reader's weights; recorded in reader.json."""

    # The 6-layer reader's held-out leaflets peaked at the third of four
    # epochs ("positive first" rate of their groups: 0.573, 0.598, 0.610, 0.598).
    epochs: int = 3
    # Transformer layers kept from the base (the first ones). 3 of MiniLM's 6
    # read a pair in half the time (5.2 against 10.8 ms for 4 pairs) but
    # learned far less on the same data: the held-out writer's "positive
    # first" rate after one epoch was 0.312, against 0.510 with all 6.
    layers: int = 6
    negatives: int = 3  # per question
    # Of those, the answer's neighbours (the sentence after it, then the one
    # before): on unseen leaflets the reader's first unit was often the
    # topical sentence just before the answer.
    neighbours: int = 1
    per_answer: int = 2  # training questions kept per gold answer: a second wording helps, more teach less than new answers
    # Unanswerable questions kept from the five texts' training set (1,002
    # written). The leaflets' are all kept: each leaflet was written with its
    # share (one in five); a shared cap let that share fall as leaflets were
    # added (640 in three folders, 400 kept), and the reader refused less.
    unanswerable: int = 400
    groups_per_batch: int = 8
    # A batch is padded to its longest pair, and a long message among short
    # questions made most batches 128 tokens wide: with n, groups are batched
    # with others of about their length, from shuffled pools of n batches'
    # worth. 0 (plain shuffled batches) is how the shipped reader was trained.
    bucket_batches: int = 0
    learning_rate: float = 1e-4
    # The classifier head starts from nothing: it learns at its own, higher rate.
    head_learning_rate: float = 1e-3
    # A wrong unit this close (cosine of the embedding vectors) to the answer
    # is most likely the same fact in other words, not a negative; 0: no filter.
    negative_max_cosine: float = 0.85
    warmup_steps: int = 50
    seed: int = 13
    leaflets: bool = True
    # The leaflets of this writer (question ids starting so) are never trained
    # on: they measure the reader on documents nothing here was trained on.
    heldout_writer: str = HELD_OUT_WRITER
    # The fine-tuned embedding model's torch weights (`qa train` keeps them
    # there) know how patients ask; "bundled": the packaged all-MiniLM-L6-v2.
    base: str = ".cache/train/final"
    # A trained reader folder whose logits the new one also learns, by
    # squared error beside the softmax (distillation: how a smaller reader
    # learns more from the same groups than from their labels alone); "": none.
    teacher: str = ""
    teacher_weight: float = 1.0
    # Readers trained alike from the same start (the same new head), each on
    # its own order of the groups, then averaged weight by weight (a uniform
    # "model soup"): one reader's cost to serve, less of one draw's luck (three
    # single draws of this recipe landed 0.881 to 0.905 on dev). 1: one reader.
    soup: int = 1

    def __post_init__(self) -> None:
        if min(self.epochs, self.negatives, self.per_answer, self.groups_per_batch, self.layers, self.soup) < 1:
            raise ValueError("epochs, negatives, per_answer, groups_per_batch, layers and soup must be at least 1")
        if min(self.bucket_batches, self.neighbours) < 0:
            raise ValueError("bucket_batches and neighbours must be 0 (off) or more")


@dataclass(frozen=True)
class Group:
    """One question's training example: the answering unit first when there is one."""

    query: str
    texts: tuple[str, ...]
    answerable: bool
    teacher: tuple[float, ...] = ()  # the teacher reader's logit per text, when distilling


def question_groups(assistant, items: list[dict], config: ReaderConfig, rng: random.Random, leave_out=frozenset(),
                    all_unanswerable: bool = False) -> list[Group]:
    """Groups for these items as `assistant` retrieves for them; units of the
    files in `leave_out`, and questions answered there, are not used; of the
    unanswerable, config.unanswerable are kept, or all with `all_unanswerable`."""
    gold_units = GoldUnits(assistant.index)
    index = assistant.index
    items = list(items)
    rng.shuffle(items)
    per_answer: dict[tuple[int, ...], int] = {}
    unanswerable = 0
    groups = []
    for item in items:
        answers = item["answers"] if item["answerable"] else []
        gold = gold_units(answers) if answers else []
        if item["answerable"]:
            if not gold or any(index.units[uid][0].file in leave_out for uid in gold):
                continue
            key = tuple(gold)
            if per_answer.get(key, 0) >= config.per_answer:
                continue
            per_answer[key] = per_answer.get(key, 0) + 1
        else:
            if not all_unanswerable and unanswerable >= config.unanswerable:
                continue
            unanswerable += 1
        prepared = assistant.prepare(item["question"], item["history"])
        if not prepared.usable:
            continue
        _, candidates, _ = assistant.candidates(prepared.text, prepared.query)
        logits = assistant.answer_model.unit_logits(candidates)
        ranked = [candidates[i] for i in np.argsort(-logits, kind="stable") if candidates[i].chunk.file not in leave_out]

        def wrong(unit, uid) -> bool:
            return uid not in gold and not contains_gold(unit.text, answers) and not unit.text.rstrip().endswith(":")

        negatives: list[str] = []
        positive = None
        if gold:
            positive = next((c.uid for c in ranked if c.uid in gold), gold[0])
            chunk, unit = index.units[positive]
            texts = [reader_text(chunk, unit)]
            # The sentence before or after the answer: the neighbour a reader must not quote first.
            near = [n for n in _neighbours(chunk, unit) if wrong(n, -1)]
            negatives += [reader_text(chunk, n) for n in near[:config.neighbours]]
        else:
            texts = []
        wanted = config.negatives if gold else config.negatives + 1  # every group the same size
        for c in ranked:
            if len(negatives) >= wanted:
                break
            text = reader_text(c.chunk, c.unit)
            if positive is not None and config.negative_max_cosine and \
                    float(index.unit_vectors[c.uid] @ index.unit_vectors[positive]) > config.negative_max_cosine:
                continue
            if wrong(c.unit, c.uid) and text not in negatives:
                negatives.append(text)
        if len(negatives) < wanted:
            continue  # a fixed group size keeps batches rectangular
        groups.append(Group(prepared.query, tuple(texts + negatives), bool(gold)))
    return groups


def _neighbours(chunk, unit) -> list:
    for i, other in enumerate(chunk.units):
        if other.span == unit.span:
            return [u for u in (chunk.units[i + 1] if i + 1 < len(chunk.units) else None,
                                chunk.units[i - 1] if i > 0 else None) if u is not None and not u.is_question]
    return []


def train(groups: list[Group], base: Path, config: ReaderConfig, log=print, watch=None, members: Path | None = None):
    """(model, tokenizer) fine-tuned on the groups: softmax over each group's
    logits and NULL_LOGIT, the answering unit (or the null) the target; with
    `config.soup` > 1, that many such readers averaged (`average`).
    `watch(model, tokenizer, epoch)`, when given, runs after each epoch (to
    follow a held-out measure while choosing the number of epochs).
    `members`: a folder keeping each finished member's torch weights
    (member-0, member-1...), taken from there on a later run, so that a soup
    longer than a working session can be trained across two (the caller keys
    the folder by data and config)."""
    models = []
    for member in range(config.soup):
        if config.soup > 1:
            log(f"soup member {member + 1}/{config.soup}")
        kept = members / f"member-{member}" if members is not None else None
        if kept is not None and (kept / "config.json").is_file():
            model, tokenizer = load_member(kept)
            log(f"soup member {member + 1} from {kept}")
        else:
            model, tokenizer = train_member(groups, base, config, member, log, watch)
            if kept is not None:
                save_member(model, tokenizer, kept)
        models.append(model)
    return average(models), tokenizer


def train_member(groups: list[Group], base: Path, config: ReaderConfig, member: int = 0, log=print, watch=None):
    """One reader: member 0 is the single reader's draw; each other member
    starts from the same weights and head and sees the groups in another order."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the new head's "newly initialized" report is expected
    numerics.record(log)
    available = json.loads((base / "config.json").read_text(encoding="utf-8")).get("num_hidden_layers", 0)
    if config.layers > available:  # transformers would add the missing layers untrained, silently
        raise TrainingDataError(f"{base} has {available} transformer layers; the reader asks for {config.layers}: lower ReaderConfig.layers")
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=1, local_files_only=True, dtype=torch.float32, attn_implementation="eager",
        num_hidden_layers=config.layers,  # the first layers of the base; the rest are not loaded
    )  # eager attention: the graph torch.onnx exports
    head = [p for name, p in model.named_parameters() if name.startswith(("classifier.", "bert.pooler."))]
    body = [p for name, p in model.named_parameters() if not name.startswith(("classifier.", "bert.pooler."))]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": config.learning_rate}, {"params": head, "lr": config.head_learning_rate}], weight_decay=0.01
    )
    per_epoch = -(-len(groups) // config.groups_per_batch)
    steps = per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / config.warmup_steps) * max(0.0, 1 - s / steps)
    )
    rng = random.Random(config.seed + member)
    model.train()
    started, step = time.time(), 0
    for _ in range(config.epochs):
        for batch in batches(groups, config.groups_per_batch, rng, config.bucket_batches):
            queries = [g.query for g in batch for _ in g.texts]
            texts = [t for g in batch for t in g.texts]
            encoded = tokenizer(queries, texts, truncation="longest_first", max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            logits = model(**encoded).logits.view(len(batch), -1)
            null = torch.full((len(batch), 1), NULL_LOGIT)
            target = torch.tensor([1 if g.answerable else 0 for g in batch])
            loss = torch.nn.functional.cross_entropy(torch.cat([null, logits], dim=1), target)
            if config.teacher:
                taught = torch.tensor([g.teacher for g in batch], dtype=torch.float32)
                loss = loss + config.teacher_weight * torch.nn.functional.mse_loss(logits, taught)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            if step % 50 == 0:
                log(f"step {step}/{steps} loss {loss.item():.3f} ({time.time() - started:.0f} s)")
            step += 1
        if watch is not None:
            model.eval()
            with torch.inference_mode():
                watch(model, tokenizer, step // per_epoch)
            model.train()
    model.eval()
    return model, tokenizer


def batches(groups: list[Group], size: int, rng: random.Random, bucket: int = 0) -> list[list[Group]]:
    """One epoch's batches: every group once, shuffled. With `bucket`, each
    batch holds groups of similar length (query and longest text, in
    characters) from a shuffled pool of that many batches' worth, and the
    batches come in random order."""
    order = list(groups)
    rng.shuffle(order)
    if not bucket:
        return [order[i:i + size] for i in range(0, len(order), size)]
    pool = size * bucket
    out = []
    for start in range(0, len(order), pool):
        similar = sorted(order[start:start + pool], key=lambda g: len(g.query) + max(map(len, g.texts), default=0))
        out += [similar[i:i + size] for i in range(0, len(similar), size)]
    rng.shuffle(out)
    return out


def training_groups(settings, config: ReaderConfig, data: tuple[Path, ...], leaflets: Path, leave_out=frozenset(), log=print):
    """(groups, counts) from the training questions in `data` and, when configured, the leaflets."""
    from qa.answering.assistant import Assistant

    per_file = {path: load_items(path) for path in data}
    if bad := [str(path) for path, rows in per_file.items() if any(i.get("split") in ("dev", "test") for i in rows)]:
        raise ValueError(f"{', '.join(bad)} holds dev or test items: the training set must be written from the corpus alone")
    # The hard negatives are ranked by the answer model as the shipped reader's
    # were: with its question memory (the product serves without it), from TRAINING_TOP_K passages.
    settings = settings.with_(question_memory=True, top_k=TRAINING_TOP_K)
    assistant = Assistant.load(settings, triage=False, calibrated=False)
    rng = random.Random(config.seed)
    groups, counts = [], {}
    for n, (path, rows) in enumerate(per_file.items()):
        # A next round is written for what the first file's caps drop (its
        # unanswerable posts, a covered answer asked as a story): all kept.
        found = question_groups(assistant, rows, config, rng, frozenset(leave_out), all_unanswerable=n > 0)
        counts["five texts" if n == 0 else path.stem] = len(found)
        groups += found
    if config.leaflets:
        files = leaflet_files(leaflets, config.heldout_writer, held_out=False)
        leaflet_items = [i for path in files for i in load_items(path)]
        with tempfile.TemporaryDirectory() as work:
            other = leaflet_assistant(settings, assistant.embedder, Path(work), files, reader=None)
            extra = question_groups(other, leaflet_items, config, rng, all_unanswerable=True)
        counts["leaflets"] = len(extra)
        groups += extra
    log(f"{len(groups)} question groups: {counts}")
    return groups, counts


def taught(groups: list[Group], teacher: Path, log=print) -> list[Group]:
    """The groups with the teacher reader's logits for their texts."""
    from qa.answering.reader import load_reader

    reader = load_reader(teacher)
    started = time.time()
    out = [replace(g, teacher=tuple(float(x) for x in reader.score(g.query, list(g.texts)))) for g in groups]
    log(f"teacher {teacher} read {len(groups)} groups in {time.time() - started:.0f} s")
    return out


def base_folder(config: ReaderConfig) -> Path:
    if config.base == "bundled":
        from qa.index.embed import bundled_model_path

        return bundled_model_path()
    folder = Path(config.base)
    if not (folder / "config.json").is_file():
        raise TrainingDataError(f"no torch weights to start the reader from in {folder}: run `qa train` first (it keeps them there)")
    return folder


def build_reader(
    settings, config: ReaderConfig, data: tuple[Path, ...], leaflets: Path, out: Path, leave_out=frozenset(),
    keep_torch: Path | None = None, card: dict | None = None, log=print, watch=None, members: Path | None = None,
) -> None:
    """Train, export and describe a reader in `out` (written beside it, then
    renamed into place): what `qa train-reader` and leave-one-document-out run.
    `members`: where a soup's finished members are kept (see `train`)."""
    started = time.time()
    groups, counts = training_groups(settings, config, data, leaflets, leave_out, log)
    if config.teacher:
        groups = taught(groups, Path(config.teacher), log)
    model, tokenizer = train(groups, base_folder(config), config, log, watch, members)
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    if keep_torch is not None:  # the torch weights too, to export again or study
        model.save_pretrained(str(keep_torch))
        tokenizer.save_pretrained(str(keep_torch))
    export_reader(model, tokenizer, staging)
    save_reader_card(staging, {
        "config": asdict(config),
        "groups": counts,
        "left out": sorted(leave_out),
        "training data": [*map(str, data), *([str(leaflets)] if config.leaflets else [])],
        "numerics": numerics.record(),
        **(card or {}),
        "trained at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "train seconds": round(time.time() - started),
    })
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    log(f"wrote {out} in {time.time() - started:.0f} s")


def run_train_reader(args, settings) -> int:
    """Entry point of `qa train-reader`."""
    chosen = {name: getattr(args, name) for name in ("epochs", "layers", "soup") if getattr(args, name) is not None}
    if args.teacher is not None:
        chosen["teacher"] = str(args.teacher)
    config = ReaderConfig(seed=args.seed, leaflets=not args.no_leaflets, base=args.base, **chosen)
    command = " ".join(["qa", *sys.argv[1:]]) if sys.argv[1:2] == ["train-reader"] else "qa train-reader"
    build_reader(settings, config, tuple(args.data or READER_DATA), args.leaflets, args.out, frozenset(args.leave_out or ()),
                 args.keep_torch, {"command": command}, log)
    return 0


def log(message: str) -> None:
    print(f"[train-reader {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

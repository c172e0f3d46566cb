"""Checks on the training set `train/questions.jsonl`: its shape and counts,
verbatim gold spans, recorded gold units, and independence from the eval set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus
from qa.language.text import norm
from qa.training.trainset import TrainingDataError, gold_unit_ids, load_items

ROOT = Path(__file__).resolve().parents[1]
TRAIN_FILE = ROOT / "train" / "questions.jsonl"
EVAL_FILE = ROOT / "eval" / "questions.jsonl"
POSTS_FILE = ROOT / "eval" / "posts.jsonl"  # the long posts (qa.evaluation.posts): evaluation questions too


def _evaluation_questions() -> list[str]:
    return [json.loads(line)["question"] for path in (EVAL_FILE, POSTS_FILE)
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
MAX_COSINE_TO_EVAL = 0.85


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return load_items(TRAIN_FILE)


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    found = {}
    for doc in load_corpus(ROOT / "corpus"):
        for article in doc.articles:
            found[article.id] = norm(doc.text[article.span.start : article.span.end])
    return found


def test_the_counts_the_issue_asks_for(items):
    answerable = [i for i in items if i["answerable"]]
    assert len(answerable) >= 1600
    assert sum(i["kind"] == "followup" for i in answerable) >= 350
    assert sum(bool(i.get("long")) for i in answerable) >= 250
    assert sum(not i["answerable"] for i in items) >= 400
    types = Counter(i["unanswerable_type"] for i in items if not i["answerable"])
    assert set(types) == {"off-topic", "uncovered-medical", "near-miss"} and min(types.values()) >= 80


def test_every_item_is_training_data_with_consistent_labels(items):
    assert len({i["id"] for i in items}) == len(items)
    # Two writers may ask the same thing in the same words: then with the same label.
    labels: dict[tuple, tuple] = {}
    for item in items:
        key = (norm(item["question"]), tuple(norm(h) for h in item["history"]))
        label = (item["answerable"], item["unanswerable_type"])
        assert labels.setdefault(key, label) == label, item["id"]
    assert len(labels) >= 0.99 * len(items)
    for item in items:
        assert item["split"] == "train", item["id"]
        if item["answerable"]:
            assert item["kind"] in ("single", "followup") and 1 <= len(item["answers"]) <= 4, item["id"]
            assert (item["kind"] == "followup") == bool(item["history"]), item["id"]
        else:
            assert item["kind"] == "unanswerable" and not item["answers"] and not item["urgent"], item["id"]


def test_every_gold_span_is_verbatim_in_a_listed_source(items, texts):
    problems = [
        f"{i['id']}: {span!r}"
        for i in items
        for span in i["answers"]
        if not any(norm(span) in texts[s] for s in i["sources"])
    ]
    assert not problems, problems[:10]


def test_the_recorded_gold_units_hold_the_spans(items):
    corpus = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "corpus").glob("*.txt")}
    with_units = [i for i in items if i["answerable"] and i["gold_units"]]
    assert len(with_units) >= 0.97 * sum(i["answerable"] for i in items)
    for item in with_units:
        spans = [norm(a) for a in item["answers"]]
        for unit in item["gold_units"]:
            text = norm(corpus[unit["file"]][unit["start"] : unit["end"]])
            assert any(s in text or text in s for s in spans), item["id"]


def test_gold_units_are_the_units_holding_a_span(fake_assistant):
    index = fake_assistant.index
    uids = gold_unit_ids(index, ["slow the breakdown of bone"])
    assert uids and all("breakdown of bone" in norm(t) for t in _unit_texts(index, uids))
    assert gold_unit_ids(index, ["nothing like this is in the corpus"]) == []


def _unit_texts(index, uids):
    return [u.text for c, ids in zip(index.chunks, index.unit_ids) for u, uid in zip(c.units, ids) if uid in uids]


def test_a_bad_line_names_the_file_and_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="line 1 lacks"):
        load_items(bad)
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="line 1 is not valid JSON"):
        load_items(bad)


@pytest.mark.slow
def test_no_training_question_is_close_to_an_eval_question(items):
    """Written from the corpus, never by rephrasing the eval set: base MiniLM
    puts every training question below cosine 0.85 of every eval question."""
    from qa.index.embed import Embedder, bundled_model_path

    embedder = Embedder(bundled_model_path())
    evaluation = _evaluation_questions()
    train = embedder.encode([i["question"] for i in items])
    closest = (train @ embedder.encode(evaluation).T).max(axis=1)
    too_close = [(items[n]["id"], round(float(closest[n]), 3)) for n in range(len(items)) if closest[n] >= MAX_COSINE_TO_EVAL]
    assert not too_close, too_close


# Written for the reader's next training (aimed at its misreadings: outlook asked in
# fear words, a pain flare, how often a drip is given, radionuclides and blood counts,
# the dentist, words that match a wrong sentence).
NEXT_FILE = ROOT / "train" / "questions-next.jsonl"
# Written after it, read by no trainer yet: posts about the life around cancer (work,
# benefits, parking, travel, wills, telling people) that the sources do not answer, medical
# ones they do not answer either, and story posts whose question they do.
OFFTOPIC_FILE = ROOT / "train" / "questions-offtopic.jsonl"
UPCOMING = (NEXT_FILE, OFFTOPIC_FILE)


@pytest.mark.parametrize("path", UPCOMING, ids=lambda p: p.name)
def test_the_next_rounds_questions_are_labelled_as_the_training_set_is(items, texts, path):
    upcoming = load_items(path)
    earlier = {i["id"] for i in items} | {i["id"] for other in UPCOMING if other != path for i in load_items(other)}
    assert len(upcoming) >= 150 and not {i["id"] for i in upcoming} & earlier
    assert len({i["id"] for i in upcoming}) == len(upcoming)
    for item in upcoming:
        assert item["split"] == "train" and "gold_units" not in item, item["id"]
        assert item["long"] == (len(item["question"].split()) > 60) or path == NEXT_FILE, item["id"]
        if item["answerable"]:
            assert item["kind"] in ("single", "followup") and item["answers"], item["id"]
            assert (item["kind"] == "followup") == bool(item["history"]), item["id"]
            assert all(any(norm(span) in texts[s] for s in item["sources"]) for span in item["answers"]), item["id"]
        else:
            assert item["kind"] == "unanswerable" and not item["answers"], item["id"]
            assert item["unanswerable_type"] in ("near-miss", "uncovered-medical", "off-topic"), item["id"]


@pytest.mark.slow
@pytest.mark.parametrize("path", UPCOMING, ids=lambda p: p.name)
def test_no_next_round_question_is_close_to_an_eval_question(path):
    from qa.index.embed import Embedder, bundled_model_path

    embedder = Embedder(bundled_model_path())
    upcoming = load_items(path)
    closest = (embedder.encode([i["question"] for i in upcoming]) @ embedder.encode(_evaluation_questions()).T).max(axis=1)
    assert not [i["id"] for i, c in zip(upcoming, closest) if c >= MAX_COSINE_TO_EVAL]


LEAFLETS = Path(__file__).resolve().parents[1] / "train" / "leaflets"
# Written for the next reader, kept apart until it is trained (the cached
# leave-one-document-out readers are keyed by train/leaflets).
NEXT_LEAFLETS = LEAFLETS.with_name("leaflets-next")
# Written by four more writers to stay unseen by every model: the measure of a
# new document once leaflets-next has been trained on.
UNSEEN_LEAFLETS = LEAFLETS.with_name("leaflets-unseen")
# Written for the reader after next (aimed at what the shipped one gets wrong), not yet trained on.
MORE_LEAFLETS = LEAFLETS.with_name("leaflets-more")
LEAFLET_FOLDERS = (LEAFLETS, NEXT_LEAFLETS, UNSEEN_LEAFLETS, MORE_LEAFLETS)
TRIAGE = Path(__file__).resolve().parents[1] / "train" / "triage"
TRIAGE_FIELDS = ("id", "message", "history", "label", "topic", "writer", "split", "pattern")


def _leaflet_items(folder: Path = LEAFLETS) -> list[dict]:
    return [item for path in sorted(folder.glob("*.jsonl")) for item in load_items(path)]


def _triage_items() -> list[dict]:
    from qa.files import read_jsonl

    return [item for path in sorted(TRIAGE.glob("*.jsonl")) for item in read_jsonl(path, TRIAGE_FIELDS)]


@pytest.mark.parametrize("folder, least", [(LEAFLETS, 40), (NEXT_LEAFLETS, 16), (UNSEEN_LEAFLETS, 16), (MORE_LEAFLETS, 16)])
def test_every_leaflet_span_is_verbatim_in_its_leaflet(folder, least):
    items = _leaflet_items(folder)
    assert len(list(folder.glob("*.md"))) >= least and len(items) >= least * 40
    assert len({i["id"] for i in items}) == len(items)
    others = {i["id"] for other in LEAFLET_FOLDERS if other != folder for i in _leaflet_items(other)}
    assert not {i["id"] for i in items} & others
    for item in items:
        if item["answerable"]:
            (source,) = item["sources"]
            text = (folder / f"{source}.md").read_text(encoding="utf-8")
            assert item["answers"] and all(span in text for span in item["answers"]), item["id"]
        else:
            assert item["answers"] == [] and item["unanswerable_type"] in ("near-miss", "uncovered-medical", "off-topic")


def test_triage_labels_are_consistent_and_each_split_has_its_own_writer():
    items = _triage_items()
    assert len({i["id"] for i in items}) == len(items)
    for item in items:
        assert item["label"] in ("urgent", "topic", "none") and (item["topic"] is None) == (item["label"] == "none"), item["id"]
        assert item["topic"] in (None, "cord", "calcium", "fracture") and isinstance(item["history"], list), item["id"]
    writers = {split: {i["writer"] for i in items if i["split"] == split} for split in ("train", "dev", "heldout")}
    assert not writers["heldout"] & (writers["train"] | writers["dev"]) and not writers["dev"] & writers["train"]
    assert sum(i["split"] == "train" for i in items) >= 1500


@pytest.mark.slow
def test_no_leaflet_question_or_triage_message_is_close_to_an_eval_question():
    from qa.index.embed import Embedder, bundled_model_path

    embedder = Embedder(bundled_model_path())
    evaluation = _evaluation_questions()
    leaflets = [item for folder in LEAFLET_FOLDERS for item in _leaflet_items(folder)]
    written = [(i["id"], i["question"]) for i in leaflets] + [(i["id"], i["message"]) for i in _triage_items()]
    closest = (embedder.encode([text for _, text in written]) @ embedder.encode(evaluation).T).max(axis=1)
    too_close = [(written[n][0], round(float(closest[n]), 3)) for n in range(len(written)) if closest[n] >= MAX_COSINE_TO_EVAL]
    assert not too_close, too_close

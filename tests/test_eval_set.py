"""Checks on the evaluation set `eval/questions.jsonl`: its shape, its labels,
and that every gold answer span is really in the sources it names."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[1]
EVAL_FILE = ROOT / "eval" / "questions.jsonl"
CORPUS_DIR = ROOT / "corpus"

KEYS = {
    "id", "question", "history", "answerable", "answers", "sources",
    "kind", "split", "urgent", "unanswerable_type",
}
KINDS = {"single", "followup", "unanswerable"}
SPLITS = {"dev", "test"}
UNANSWERABLE_TYPES = {"off-topic", "uncovered-medical", "near-miss"}
SOURCE_IDS = {
    "webmd-bone-mets-page",
    "webmd-bone-mets",
    "acs-bone-mets-problems",
    "acs-finding-bone-mets",
    "umich-bone-mets-symptoms",
    "medicinenet-bone-cancer",
    "breastcancer-org-bone-mets",
    "oncolink-bone-mets",
    "northwestern-hip-fractures",
    "everydayhealth-breast-bone-mets",
    "breastcancernow-secondary-bone",
    "ctca-metastatic-breast",
    "csc-bone-mets",
}
MIN_PER_SOURCE = 10
MIN_UNANSWERABLE = 40
MIN_PER_UNANSWERABLE_TYPE = 10
MIN_FOLLOWUPS = 40
MIN_URGENT = 10
SPLIT_RANGE = (0.40, 0.60)


def norm(text: str) -> str:
    """Case-insensitive, whitespace collapsed: how gold spans are matched."""
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def items() -> list[dict]:
    assert EVAL_FILE.is_file(), f"{EVAL_FILE} is missing"
    rows = []
    for number, line in enumerate(EVAL_FILE.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {number} is blank"
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"line {number} is not valid JSON: {exc}")
    assert rows, "the evaluation set is empty"
    return rows


@pytest.fixture(scope="module")
def source_texts() -> dict[str, str]:
    """Normalised text of every article (the content part only, per metadata)."""
    texts = {}
    for doc in load_corpus(CORPUS_DIR):
        for article in doc.articles:
            texts[article.id] = norm(doc.text[article.span.start:article.span.end])
    return texts


def test_source_ids_exist_in_corpus(source_texts):
    missing = SOURCE_IDS - source_texts.keys()
    assert not missing, f"corpus has no article with ids {sorted(missing)}"


def test_keys_and_types(items):
    for item in items:
        where = item.get("id", item)
        assert isinstance(item, dict), f"{where}: not an object"
        assert set(item) == KEYS, f"{where}: keys {sorted(item)} differ from {sorted(KEYS)}"
        assert isinstance(item["id"], str) and item["id"], where
        assert isinstance(item["question"], str) and item["question"].strip(), f"{where}: empty question"
        assert isinstance(item["history"], list), where
        assert all(isinstance(h, str) and h.strip() for h in item["history"]), f"{where}: bad history"
        assert isinstance(item["answerable"], bool), where
        assert isinstance(item["answers"], list), where
        assert all(isinstance(a, str) and a.strip() for a in item["answers"]), f"{where}: bad answer"
        assert isinstance(item["sources"], list), where
        assert all(isinstance(s, str) for s in item["sources"]), where
        assert item["kind"] in KINDS, f"{where}: kind {item['kind']!r}"
        assert item["split"] in SPLITS, f"{where}: split {item['split']!r}"
        assert isinstance(item["urgent"], bool), where
        assert item["unanswerable_type"] is None or item["unanswerable_type"] in UNANSWERABLE_TYPES, (
            f"{where}: unanswerable_type {item['unanswerable_type']!r}"
        )


def test_ids_unique(items):
    counts = Counter(item["id"] for item in items)
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    assert not duplicates, f"duplicate ids: {duplicates}"


def test_questions_unique(items):
    counts = Counter((norm(item["question"]), tuple(map(norm, item["history"]))) for item in items)
    duplicates = sorted(q for q, n in counts.items() if n > 1)
    assert not duplicates, f"duplicate questions: {duplicates}"


def test_labels_consistent(items):
    for item in items:
        where = item["id"]
        unanswerable = item["kind"] == "unanswerable"
        assert unanswerable == (not item["answerable"]), f"{where}: kind and answerable disagree"
        if unanswerable:
            assert item["answers"] == [], f"{where}: unanswerable item has answers"
            assert item["sources"] == [], f"{where}: unanswerable item has sources"
            assert item["unanswerable_type"] in UNANSWERABLE_TYPES, f"{where}: no unanswerable_type"
            assert not item["urgent"], f"{where}: unanswerable item marked urgent"
            assert item["history"] == [], f"{where}: unanswerable item has history"
        else:
            assert 1 <= len(item["answers"]) <= 4, f"{where}: needs 1 to 4 answer spans"
            assert item["sources"], f"{where}: answerable item lists no source"
            assert item["unanswerable_type"] is None, f"{where}: answerable item has unanswerable_type"
            unknown = set(item["sources"]) - SOURCE_IDS
            assert not unknown, f"{where}: unknown sources {sorted(unknown)}"
            assert len(set(item["sources"])) == len(item["sources"]), f"{where}: repeated source"
        if item["kind"] == "followup":
            assert 1 <= len(item["history"]) <= 2, f"{where}: a follow-up needs 1 or 2 earlier questions"
        if item["kind"] == "single":
            assert item["history"] == [], f"{where}: a single question has history"


def test_spans_found_in_listed_sources(items, source_texts):
    problems = []
    for item in items:
        if not item["answerable"]:
            continue
        texts = {s: source_texts[s] for s in item["sources"]}
        for span in item["answers"]:
            if not any(norm(span) in text for text in texts.values()):
                problems.append(f"{item['id']}: span {span!r} is in none of {item['sources']}")
        for source, text in texts.items():
            if not any(norm(span) in text for span in item["answers"]):
                problems.append(f"{item['id']}: source {source} holds none of its spans")
    assert not problems, "\n".join(problems)


def test_page_copy_spans_come_from_its_content(items, source_texts):
    """The saved WebMD page repeats parts of 001 between site navigation and
    promos: a span credited to it must be one of those repeated parts."""
    page, article = "webmd-bone-mets-page", "webmd-bone-mets"
    problems = []
    for item in items:
        if page not in item["sources"]:
            continue
        if article not in item["sources"]:
            problems.append(f"{item['id']}: lists {page} without {article}")
        for span in item["answers"]:
            if norm(span) in source_texts[page] and norm(span) not in source_texts[article]:
                problems.append(f"{item['id']}: span {span!r} is page furniture, not the repeated article")
    assert not problems, "\n".join(problems)


def test_every_source_well_covered(items):
    counts = Counter(s for item in items if item["answerable"] for s in item["sources"])
    thin = {s: counts.get(s, 0) for s in SOURCE_IDS if counts.get(s, 0) < MIN_PER_SOURCE}
    assert not thin, f"sources with fewer than {MIN_PER_SOURCE} items: {thin}"


def test_minimum_counts(items):
    kinds = Counter(item["kind"] for item in items)
    assert kinds["unanswerable"] >= MIN_UNANSWERABLE, kinds
    assert kinds["followup"] >= MIN_FOLLOWUPS, kinds
    assert sum(item["urgent"] for item in items) >= MIN_URGENT
    types = Counter(item["unanswerable_type"] for item in items if not item["answerable"])
    for utype in UNANSWERABLE_TYPES:
        assert types[utype] >= MIN_PER_UNANSWERABLE_TYPE, types


def test_splits_balanced(items):
    low, high = SPLIT_RANGE
    groups = {"all": items}
    for kind in KINDS:
        groups[kind] = [item for item in items if item["kind"] == kind]
    for name, group in groups.items():
        assert group, f"no {name} items"
        dev = sum(item["split"] == "dev" for item in group) / len(group)
        assert low <= dev <= high, f"{name}: dev share {dev:.2f} outside {low}-{high}"

"""Checks on the long-post set `eval/posts.jsonl` (qa.evaluation.posts): its
shape, that every gold span is in the sources it names, and that its posts are
longer than anything the models trained on, as the setting that reads them says."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT / "eval" / "posts.jsonl"
KEYS = {"id", "question", "history", "answerable", "answers", "sources", "kind", "split", "urgent", "unanswerable_type"}
# Each split has its own writers: dev's first writer (pd001...), a caregivers' writer (pda..)
# and a patients' writer (pdb..); test's writer (pt...) saw none of them.
PREFIX = {"dev": "pd", "test": "pt"}


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def posts() -> list[dict]:
    return [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines()]


def test_shape_and_labels(posts):
    assert Counter(p["split"] for p in posts) == {"dev": 104, "test": 40}
    for post in posts:
        where = post["id"]
        assert set(post) == KEYS, where
        assert post["id"].startswith(PREFIX[post["split"]]), where
        assert post["history"] == [] and post["urgent"] is False, where
        assert post["kind"] == ("long" if post["answerable"] else "unanswerable"), where
        assert bool(post["answers"]) == bool(post["sources"]) == post["answerable"], where
        assert (post["unanswerable_type"] is None) == post["answerable"], where
    assert len({p["id"] for p in posts}) == len(posts) == len({norm(p["question"]) for p in posts})


def test_spans_are_in_the_sources_named():
    texts = {}
    for doc in load_corpus(ROOT / "corpus"):
        for article in doc.articles:
            texts[article.id] = norm(doc.text[article.span.start:article.span.end])
    problems = []
    for post in (json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines()):
        for span in post["answers"]:
            if not any(norm(span) in texts[s] for s in post["sources"]):
                problems.append(f"{post['id']}: {span!r} is in none of {post['sources']}")
    assert not problems, "\n".join(problems)


def test_posts_are_longer_than_every_training_question_and_the_setting_lies_between(posts):
    """long_message_words reads a post by its questions; it must be past every
    question the models learned from (so training and serving read those alike)
    and short of every post here (so these measure it)."""
    limit = Settings().long_message_words
    trained = [json.loads(line)["question"] for path in [ROOT / "train" / "questions.jsonl", *(ROOT / "train" / "leaflets").glob("*.jsonl")]
               for line in path.read_text(encoding="utf-8").splitlines()]
    assert max(len(q.split()) for q in trained) < limit < min(len(p["question"].split()) for p in posts)

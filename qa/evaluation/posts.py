"""Long posts: messages of 100 to 400 words as people post them on a forum or
to a helpline (a story, family, feelings, the question somewhere in it), about
the five texts. No question any model trained on is longer than 76 words, so
these show how the assistant reads a post longer than anything it learned
from. Four writers, who saw neither each other's posts nor the evaluation set:
three in `dev` (ids pd0.., pda.., pdb..; read while choosing how a long post is
read) and one in `test` (pt..., report only). Each is measured as shipped (a post past `long_message_words`
read by its questions and the story just before them) and read whole.

    qa eval --blind     # adds the table to eval/blind.md with --report eval
"""

from __future__ import annotations

from pathlib import Path

from qa.evaluation.blind import KEYS, with_high
from qa.evaluation.measure import load_set, metrics, run_items, table

POSTS = Path("eval/posts.jsonl")
RED_BOX = "red box"  # no post here tells an urgent sign happening now: each red Urgent box is a false alarm
INTRO = (
    "Messages of 100 to 400 words about the five texts, as people post them: a story, family and feelings, and the "
    "question somewhere in it (`eval/posts.jsonl`). No question a model trained on is longer than 76 words. Four "
    "writers, each unseen by the others: three in dev (read while choosing how a long post is read), one in test (report only). "
    "*By its questions*: as shipped, a message of more than `long_message_words` words is read by its question "
    "sentences and the story just before them; *read whole*: the message as one query, as before. *Red box*: "
    "the share shown the red Urgent box; no post here tells a sign happening now, so each is a false alarm."
)


def run_posts(assistant, path: Path = POSTS) -> dict[str, dict]:
    """{row name: metrics} for each split, as shipped and read whole."""
    items = load_set(path, "all") if path.is_file() else []
    whole = assistant.replace(settings=assistant.settings.with_(long_message_words=0))
    figures = {}
    for split in ("dev", "test"):
        chosen = [item for item in items if item["split"] == split]
        for name, reader in ((f"{split}, by its questions", assistant), (f"{split}, read whole", whole)):
            if chosen:
                results = run_items(reader, chosen, progress=False)
                red = sum(r.answer["urgent"] is not None for r in results) / len(results)
                figures[name] = {**with_high(metrics(results), results), RED_BOX: red}
    return figures


def report(figures: dict) -> str:
    if not figures:
        return ""
    return "\n".join(["## Long posts", "", INTRO, "", table(figures, [*KEYS, RED_BOX]), ""])

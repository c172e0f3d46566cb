"""The triage table of `make eval`: on messages in patients' words
(train/triage/), how often the red Urgent box appears when an urgent sign is
happening now (recall, per topic), and when nothing is (false alarms), for the
trained triage and for the urgent-sign rules it replaced.

    >>> rows = triage_rows(assistant, messages)     # {"held-out (w5), trained triage": {...}, ...}
"""

from __future__ import annotations

from pathlib import Path

from qa.answering.triage import TOPICS, RuleTriage
from qa.files import read_jsonl
from qa.training.leaflets import HELD_OUT_WRITER

# Questions about leaflets on other cancer-care topics that no triage trained on
# (folder, the one writer read there or "" for all): what a clinic's own leaflets
# are asked. The triage trains on the other writers of train/leaflets.
OTHER_TOPICS = ((Path("train/leaflets"), HELD_OUT_WRITER), (Path("train/leaflets-more"), ""), (Path("train/leaflets-unseen"), ""))
KEYS = ["n", *(f"recall {t}" for t in TOPICS), "false alarms", "help note on topic-only"]


def _rate(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def measure(assistant, messages: list[dict]) -> dict:
    """What a person sees for each message: the red box, the calm note."""
    answers = [assistant.ask(m["message"], m["history"]) for m in messages]
    row: dict = {"n": len(messages)}
    for topic in TOPICS:
        row[f"recall {topic}"] = _rate(a.urgent is not None for a, m in zip(answers, messages) if m["label"] == "urgent" and m["topic"] == topic)
    row["false alarms"] = _rate(a.urgent is not None for a, m in zip(answers, messages) if m["label"] != "urgent")
    row["help note on topic-only"] = _rate(a.help_note is not None for a, m in zip(answers, messages) if m["label"] == "topic")
    return row


def other_topic_messages(sources=OTHER_TOPICS) -> list[dict]:
    """The leaflets' questions as messages with no urgent label: the urgent box on
    them is a false alarm (a few describe fever or breathlessness, urgent but not
    among the three topics the sources advise on)."""
    from qa.training.leaflets import leaflet_files

    out = []
    for folder, writer in sources:
        # One writer's files (HELD_OUT_WRITER), or every file of the folder ("": no file is that writer's).
        for path in leaflet_files(folder, writer, held_out=bool(writer)):
            out += [{"message": i["question"], "history": i["history"], "label": "none", "topic": None}
                    for i in read_jsonl(path, ("id", "question", "history"))]
    return out


def triage_rows(assistant, messages: list[dict], others: list[dict] = ()) -> dict[str, dict]:
    """Per split of the messages (dev, held-out), the trained triage and the rules
    alone; then the questions about other topics' leaflets (`others`), if given."""
    rules = assistant.replace(triage=RuleTriage())
    rows = {}
    for split, name in (("heldout", "held-out"), ("dev", "dev")):
        # One row per writer: each wrote to a brief of their own (w7: news of spread, old unchanged pain).
        for writer in sorted({m["writer"] for m in messages if m["split"] == split}):
            chosen = [m for m in messages if m["split"] == split and m["writer"] == writer]
            rows[f"{name} ({writer}), trained triage"] = measure(assistant, chosen)
            rows[f"{name} ({writer}), the urgent-sign rules alone"] = measure(rules, chosen)
    if others:
        rows["other topics' leaflets (lc, leaflets-more, leaflets-unseen), trained triage"] = measure(assistant, others)
        rows["other topics' leaflets, the urgent-sign rules alone"] = measure(rules, others)
    return rows

"""The treatments and drugs a text names, by family (data/entities.json):
Zometa and "bisphosphonates" are one family, Xgeva another. An answer never
gives another family's facts than the question asks about (qa.answering.compose),
and a sentence that says "It" of a drug named the sentence before is quoted
with that sentence (qa.answering.answer.with_lead).

    >>> names("is xgeva safe")
    frozenset({'denosumab'})
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from qa.language.terms import english_frequency, topic_words

# Words rarer than this in general English name a subject of their own ("spinal" 3.9,
# "compression" 3.8), not a turn of phrase ("afterwards" 4.4, "coffee" 4.9).
SPECIFIC_ZIPF = 4.2


def names(text: str) -> frozenset[str]:
    """The families of treatments and drugs a text names."""
    words = re.findall(r"[a-z0-9-]+", text.lower())
    # "radium-223" names radium: the pieces of a hyphenated word count too.
    words += [piece for word in words if "-" in word for piece in word.split("-") if piece]
    lowered = " " + " ".join(words) + " "
    return frozenset(family for family, pattern in _families().items() if pattern.search(lowered))


def opening(text: str) -> str:
    """How a sentence's first word points back at the sentence before:
    "lead" ("These tests..."), "pronoun" ("It is...") or "" (entities.json)."""
    first = re.match(r"[\W_]*([\w'\u2019]+)", text)
    word = first.group(1).lower().replace("\u2019", "'") if first else ""
    return next((kind for kind, words in _points_back().items() if word in words), "")


def names_other(text: str, named: frozenset[str]) -> bool:
    """A text names treatments, and none of the families the question names."""
    own = names(text)
    return bool(own) and not (own & named)


def changes_subject(question: str, leaning: str) -> bool:
    """The question turns from the conversation's subject (what `leaning`, the
    question read with that subject, adds to it) to one of its own: it names a
    treatment family the subject does not ("what is xgeva?" after zometa), or
    two or more specific terms ("what causes spinal cord compression?": words
    rarer in English than SPECIFIC_ZIPF) that the subject lacks. "will i feel
    any better afterwards" names none: it leans on the conversation."""
    added = leaning.replace(question, "", 1)
    if names(question) - names(added):
        return True
    subject = set(topic_words(added))
    specific = [w for w in topic_words(question) if w not in subject and english_frequency(w) < SPECIFIC_ZIPF]
    return len(specific) >= 2


@cache
def _data() -> dict:
    return json.loads((Path(__file__).with_name("data") / "entities.json").read_text(encoding="utf-8"))


@cache
def _points_back() -> dict[str, frozenset[str]]:
    return {kind: frozenset(_data()["points_back"][kind]) for kind in ("lead", "pronoun")}


@cache
def _families() -> dict[str, re.Pattern]:
    families = _data()["families"]
    return {
        family: re.compile(r" (?:" + "|".join(re.escape(w) for w in words) + r")s? ")
        for family, words in families.items()
    }

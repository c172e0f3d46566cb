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
    return _found(_families(), text)


def opening(text: str) -> str:
    """How a sentence's first words point back at the sentence before:
    "lead" ("These tests...", "All can indicate..."), "pronoun" ("It is...") or "" (entities.json)."""
    first = re.findall(r"[\w'\u2019]+", text[:80].lower().replace("\u2019", "'"))[:3]
    start = " ".join(first)
    if any(start == phrase or start.startswith(phrase + " ") for phrase in _lead_phrases()):
        return "lead"
    word = first[0] if first else ""
    return next((kind for kind, words in _points_back().items() if word in words), "")


def of_a_treatment(text: str) -> bool:
    """The text speaks of some treatment's effects without naming which ("The most
    common side effects are..."): it means the one the sentence before names."""
    return bool(_found(_effects(), text)) and not names(text)


def conditions(text: str) -> frozenset[str]:
    """The complications a text names (high calcium, spinal cord compression...):
    what a sentence opening with "It" after it may speak of."""
    return _found(_conditions(), text)


def _found(patterns: dict[str, re.Pattern], text: str) -> frozenset[str]:
    """The keys of `patterns` whose words the text uses (whole words, lower case)."""
    words = re.findall(r"[a-z0-9-]+", text.lower())
    # "radium-223" names radium, "side-effects" are side effects: the pieces of a hyphenated word count too.
    words += [piece for word in words if "-" in word for piece in word.split("-") if piece]
    lowered = " " + " ".join(words) + " "
    return frozenset(key for key, pattern in patterns.items() if pattern.search(lowered))


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
def _lead_phrases() -> tuple[str, ...]:
    return tuple(_data()["points_back"]["lead_phrases"])


@cache
def _families() -> dict[str, re.Pattern]:
    return _patterns(_data()["families"])


@cache
def _conditions() -> dict[str, re.Pattern]:
    return _patterns(_data()["conditions"])


@cache
def _effects() -> dict[str, re.Pattern]:
    return _patterns({"effects": _data()["points_back"]["of_a_treatment"]})


def _patterns(families: dict[str, list[str]]) -> dict[str, re.Pattern]:
    return {
        family: re.compile(r" (?:" + "|".join(re.escape(w) for w in words) + r")s? ")
        for family, words in families.items()
    }

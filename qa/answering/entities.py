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


def names(text: str) -> frozenset[str]:
    """The families of treatments and drugs a text names."""
    words = re.findall(r"[a-z0-9-]+", text.lower())
    # "radium-223" names radium: the pieces of a hyphenated word count too.
    words += [piece for word in words if "-" in word for piece in word.split("-") if piece]
    lowered = " " + " ".join(words) + " "
    return frozenset(family for family, pattern in _families().items() if pattern.search(lowered))


def names_other(text: str, named: frozenset[str]) -> bool:
    """A text names treatments, and none of the families the question names."""
    own = names(text)
    return bool(own) and not (own & named)


@cache
def _families() -> dict[str, re.Pattern]:
    path = Path(__file__).with_name("data") / "entities.json"
    families = json.loads(path.read_text(encoding="utf-8"))["families"]
    return {
        family: re.compile(r" (?:" + "|".join(re.escape(w) for w in words) + r")s? ")
        for family, words in families.items()
    }

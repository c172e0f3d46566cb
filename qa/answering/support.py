"""Where to turn when the sources cannot answer how an illness will go (how long
someone may live, what lies ahead) or how to cope with it: the care team, and the
support lines the sources themselves name, quoted and cited.

Like the urgent-care advice (safety.py), a support line is never written here: it
is found in the corpus by rule, as a sentence naming a helpline with its number.
"""

from __future__ import annotations

import re

from qa.answering.safety import Advice
from qa.data import Chunk

# What people ask when the sources cannot say: prognosis and life expectancy...
_PROGNOSIS = re.compile(
    r"\bhow long\b.{0,40}\b(live|left|have|got|survive|last)\b|life expectancy|\bprognosis\b|\bsurviv|"
    r"\b(die|dying|death|terminal|end of life|time left|months left|years left)\b",
    re.I,
)
# ...and fear and coping (in a question or in the story around it).
_FEELINGS = re.compile(
    r"\b(cope|coping|scared|afraid|frightened|terrified|anxious|anxiety|depressed|depression|overwhelmed|"
    r"lonely|hopeless|can'?t stop crying|worried sick|panic\w*)\b",
    re.I,
)
# A sentence of the sources naming a support line: its name and a telephone number.
_LINE = re.compile(r"\b(help ?line|support line|hotline|helpdesk)\b", re.I)
_NUMBER = re.compile(r"\b\d[\d ()-]{6,}\d\b")
MAX_LINES = 2  # support lines shown with one refusal, from different documents


def asks_about_outlook(text: str) -> bool:
    """Whether a message asks how things will go, or how to bear them: the support lines help."""
    return asks_about_prognosis(text) or bool(_FEELINGS.search(text))


def asks_about_prognosis(text: str) -> bool:
    """Whether a message asks how things will go: how long, whether one survives.
    Fear alone is not that question ("She is terrified of the jaw thing... What is
    this infusion?" was refused as if it asked how things would go)."""
    return bool(_PROGNOSIS.search(text))


def find_support(chunks: list[Chunk]) -> tuple[Advice, ...]:
    """The sentences of the corpus that name a support line and its number, one per document."""
    found: dict[str, Advice] = {}
    for chunk in chunks:
        for unit in chunk.units:
            if chunk.file not in found and _LINE.search(unit.text) and _NUMBER.search(unit.text):
                found[chunk.file] = Advice("support", unit, chunk)
    return tuple(found.values())[:MAX_LINES]

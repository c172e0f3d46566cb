"""What to say and how much: combining the answers to the parts of a long
message, and the words of an abstention.

    >>> merge_parts(best_per_part, picks_for_the_whole, max_units=3)
    >>> why_not(question, picks, rare_term_zipf=3.3)
"""

from __future__ import annotations

from qa.answering.answer import Pick
from qa.answering.features import Question
from qa.language.terms import states_figure

NOT_COVERED = (
    "The sources I have don't cover this question, so I can't answer it. "
    "Please ask your care team; they know your situation."
)


def merge_parts(best: list[Pick], picks: list[Pick], max_units: int) -> list[Pick]:
    """The best unit of each part the sources answer, in the order asked, then
    the units for the message as a whole (best first), no unit twice."""
    chosen: list[Pick] = []
    for pick in best + picks:
        if len(chosen) < max_units and not any(same_text(pick, other) for other in chosen):
            chosen.append(pick)
    return chosen


def same_text(a: Pick, b: Pick) -> bool:
    return a.chunk.file == b.chunk.file and a.unit.span == b.unit.span


def why_not(question: Question, picks: list[Pick], rare_term_zipf: float) -> str:
    """The abstention message: it names words the sources never use, so
    "keytruda" is not taken for a word the assistant missed."""
    rare = [word for word, zipf in question.unknown if zipf < rare_term_zipf]
    if rare:
        return f"The sources don't mention {', '.join(rare[:3])}. " + NOT_COVERED
    if question.asks_for_figure and not any(states_figure(p.unit.text) for p in picks):
        return "The sources don't give that figure. " + NOT_COVERED
    return NOT_COVERED

"""What to say and how much: combining the answers to the parts of a long
message, and the words of an abstention.

    >>> each_part(part_readings, picks_for_the_whole, its_confidence, threshold=0.63, max_units=3)
    >>> why_not(question, picks, rare_term_zipf=3.3)  # one sentence
"""

from __future__ import annotations

from qa.answering.answer import Pick
from qa.answering.features import Question
from qa.answering.support import asks_about_outlook, asks_about_prognosis, find_support  # noqa: F401  (the assistant imports them here)
from qa.language.terms import states_figure

# Each refusal is one sentence: what the sources lack, and who can help instead.
CARE_TEAM = "so please ask your care team, who know your situation."
NOT_COVERED = "Sorry, the sources I have don't cover this question, " + CARE_TEAM
# How long someone may live, what lies ahead, how to cope: no leaflet can say that for
# one person. The support lines the sources name are quoted below it (support.py).
OUTLOOK = "Sorry, the sources I have can't say how things will go for one person, " + CARE_TEAM
# A message that only thanks, greets or says goodbye (qa.language.message.social_kind):
# no passage answers it, and quoting one as if it did would mislead.
SOCIAL_REPLIES = {
    "thanks": "You're welcome. If something else is on your mind, ask it below.",
    "greeting": "Hello. Ask me about bone metastasis in your own words: I answer with sentences from trusted patient-education pages, each with its source.",
    "agreeing": "All right. If something else is on your mind, ask it below.",
    "farewell": "Take care. You can come back with a question at any time; your care team knows your situation best.",
}


def each_part(readings, picks: list[Pick], confidence: float, threshold: float, max_units: int) -> tuple[list[Pick], float, tuple[str, ...]]:
    """(units, confidence, parts not answered) for a message asking two or three
    things: the best unit of each part the sources answer (`readings`: (prepared
    part, its picks, its confidence) per part), beside the best units for the
    message as a whole (`picks`, `confidence`), and the parts they do not answer
    (said plainly in the reply)."""
    best, confident, unanswered = [], [], []
    for part_prepared, part_picks, part_confidence in readings:
        if part_picks and part_confidence >= threshold:
            best.append(part_picks[0])  # best first
            confident.append(part_confidence)
        elif part_prepared.usable:
            unanswered.append(part_prepared.text)
    if not best:
        return picks, confidence, ()
    if picks and confidence >= threshold:
        best = with_whole_best(best, confident, picks[0], confidence, bool(unanswered))
    return merge_parts(best, picks, max_units), max(confidence, min(confident)), tuple(unanswered)


def with_whole_best(best: list[Pick], sure: list[float], whole: Pick, whole_sure: float, unanswered: bool) -> list[Pick]:
    """The parts' best units (`sure`: how sure each part's reading is) with the
    whole message's best (`whole_sure`). The message read whole sees its story too
    ("...a transplant for his lymphoma. Is there a gentler version?"); a part read
    alone can be sure of another topic's sentence ("Gentle massage can ease
    tension"), so the whole's best leads, unless a part goes unanswered and a part
    is surer than the whole: the whole then leant toward what nothing answers
    ("...how is it given and does it make your hair fall out?" ranks the side effects first)."""
    if unanswered and max(sure) > whole_sure:
        return [*best, whole]
    return [whole, *best]


def merge_parts(best: list[Pick], picks: list[Pick], max_units: int) -> list[Pick]:
    """The best unit of each part the sources answer, in the order asked, then
    the units for the message as a whole (best first), no unit twice."""
    chosen: list[Pick] = []
    for pick in best + picks:
        if len(chosen) < max_units and not any(same_text(pick, other) for other in chosen):
            chosen.append(pick)
    return chosen


def same_text(a: Pick, b: Pick) -> bool:
    """Two picks share text: one may be a passage holding the other."""
    return a.chunk.file == b.chunk.file and a.unit.span.start < b.unit.span.end and b.unit.span.start < a.unit.span.end


def why_not(question: Question, picks: list[Pick], rare_term_zipf: float) -> str:
    """The abstention message: it names words the sources never use, so
    "keytruda" is not taken for a word the assistant missed."""
    if asks_about_prognosis(question.text):
        return OUTLOOK
    rare = list(dict.fromkeys(word for word, zipf in question.unknown if zipf < rare_term_zipf))  # each once
    if rare:
        return f"Sorry, the sources I have don't cover this question (they don't mention {', '.join(rare[:3])}), " + CARE_TEAM
    if question.asks_for_figure and not any(states_figure(p.unit.text) for p in picks):
        return "Sorry, the sources I have don't cover this question (they don't give that figure), " + CARE_TEAM
    return NOT_COVERED

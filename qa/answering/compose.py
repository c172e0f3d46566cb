"""Compose the answer from what the reader says answers.

The answer model (qa.answering.answer) ranks every candidate unit cheaply; the
reader (qa.answering.reader) reads the question with each of its best few, in
context. A unit's final score is the reader's logit plus `blend` times the
answer model's: the answer model knows the five shipped texts (its memory of
the training questions), the reader knows the task on any text.

    >>> reading = read_units(answer_model, reader, question, candidates, settings)
    >>> reading.picks, reading.raw, reading.best

The first unit is the best by that score. A second or third joins only when
the reader itself scores it as answering (above its "nothing here" logit plus
a margin), when it says something new, and when it does not name another drug
or treatment than the question does. A lead-in without its list never joins.
Chosen units that stand side by side are quoted as one passage, in the
document's order (`with_adjacent`, `joined_extras`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.answering.answer import (
    AnswerModel, Pick, _next_unit, _overlaps, _previous_unit, _similar, joined, sigmoid, with_lead,
)
from qa.answering.entities import names, names_other, opening
from qa.answering.features import UNIT_FEATURES, Candidate, Question
from qa.answering.reader import NULL_LOGIT, UnitReader, reader_text
from qa.language.message import is_question, sentences
from qa.settings import Settings

REPEATS = UNIT_FEATURES.index("repeats last answer")


@dataclass(frozen=True)
class Reading:
    """The chosen units (best first), the answer model's answerability logit and the reader's best logit."""

    picks: list[Pick]
    raw: float
    best: float


def read_units(
    answer_model: AnswerModel, reader: UnitReader | None, question: Question, candidates: list[Candidate], settings: Settings,
) -> Reading:
    """Rank by the answer model, read its best `settings.reader_candidates` with
    the reader, choose by the blended score."""
    if reader is None or not candidates:
        picks, raw = answer_model.choose(question, candidates, settings.max_units)
        return Reading(picks, raw, NULL_LOGIT)
    logits = leaning_back(candidates, answer_model.unit_logits(candidates), settings.lean_back_gap)
    raw = answer_model.answer_logit(question, candidates, logits)
    order = np.argsort(-logits, kind="stable")[: settings.reader_candidates]
    top = [candidates[i] for i in order]
    read = reader.score(question.query, [reader_text(c.chunk, c.unit) for c in top])
    # A follow-up should add to the last answer: a unit it already gave is read
    # as answering again, so it gives way to a new one close behind.
    again = np.array([c.features[REPEATS] for c in top])
    blended = read + settings.reader_blend * logits[order] - settings.reader_repeat_penalty * again
    ranked = sorted(range(len(top)), key=lambda i: (-blended[i], top[i].chunk.id, top[i].unit.span.start))
    picks = [Pick(top[i].unit, top[i].chunk, sigmoid(read[i] - NULL_LOGIT), top[i].uid, top[i].before) for i in ranked]
    scores = {top[i].uid: float(read[i]) for i in ranked}
    chosen = compose(picks, scores, question.query, settings.max_units, settings.reader_extra_margin, question.text)
    # The confidence reads the reader's score of the unit shown first: when compose
    # drops the best (another treatment's facts, a lead-in), what is left may be one
    # the reader says does not answer ("see the dentist before denosumab" was
    # answered with a sentence about exercise, as sure as the dropped dental exam).
    return Reading(chosen, raw, scores[chosen[0].uid] if chosen else float(read[ranked[0]]))


def leaning_back(candidates: list[Candidate], logits: np.ndarray, gap: float) -> np.ndarray:
    """The answer model's logits, a unit that points back ("It ...", "These ...":
    `entities.opening`) raised to those of the unit before it (when that is a candidate too) less `gap`:
    "It is not legally binding" shares no word with "must doctors follow an
    advance statement", the sentence before it does."""
    best_of: dict[str, float] = {}  # a unit's text: its best logit among the candidates
    for candidate, logit in zip(candidates, logits):
        best_of[candidate.unit.text] = max(best_of.get(candidate.unit.text, -np.inf), float(logit))
    raised = np.array(logits, dtype=float)
    for i, candidate in enumerate(candidates):
        if candidate.before in best_of and opening(candidate.unit.text):
            raised[i] = max(raised[i], best_of[candidate.before] - gap)
    return raised


def compose(ranked: list[Pick], read: dict[int, float], query: str, max_units: int, margin: float, text: str = "") -> list[Pick]:
    """The best unit first (one passage with the sentence it leans back on), then
    units the reader scores as answering too, in reading order. `text`: the
    message as written (its story is told apart from its questions); "" reads `query`."""
    ranked = [p for p in ranked if not p.unit.text.rstrip().endswith(":")]
    named = asked_names(query, text or query, ranked)
    if named:
        # Another treatment's facts never answer, first or later: a unit is read
        # with its section heading ("Radiopharmaceuticals" over "low blood counts").
        ranked = [p for p in ranked if not names_other(named_in(p), named)]
    if not ranked:
        return []
    best = ranked[0]
    head = [with_follower(with_lead(best), ranked, read, margin)]
    extra: list[Pick] = []
    for pick in ranked[1:]:
        if len(head) + len(extra) >= max_units:
            break
        if read.get(pick.uid, NULL_LOGIT) < NULL_LOGIT + margin:
            continue  # a topical neighbour, not an answer
        if any(_overlaps(pick, other) or _similar(pick, other) for other in head + extra):
            continue
        extra.append(pick)
    head, extra = with_adjacent(head[0], extra)
    # Joined, the passage may open earlier and take in an extra of its own (its lead).
    extra = joined_extras([p for p in extra if not _overlaps(p, head)])
    extra = [_led(p, [head, *extra]) for p in extra]
    extra.sort(key=lambda p: (p.chunk.file != best.chunk.file, p.chunk.file, p.unit.span.start))
    return [head] + extra


def _led(pick: Pick, quoted: list[Pick]) -> Pick:
    """A later unit that points back ("These tests are painless.") with the
    sentence it points back to, as the first is: alone it is a fragment. Not
    when that sentence is quoted already (the end of the passage before, in the
    chunk overlapping this one's): it would be read twice."""
    led = with_lead(pick)
    if led is pick or any(_overlaps(led, other) for other in quoted if other is not pick):
        return pick
    return led


def with_adjacent(head: Pick, extra: list[Pick]) -> tuple[Pick, list[Pick]]:
    """The head passage with the extra units that stand right before or after it
    in its chunk, as one passage in reading order (the chunk's own text:
    verbatim), and the other extras. "Cancer growth in the bones of the spine
    can press on the spinal cord. This is called spinal cord compression..."
    reads as one; quoted apart, the sentence the reader liked best came first
    and its neighbour, which answers, second."""
    extra = list(extra)
    while True:
        before, after = _previous_unit(head), _next_unit(head)
        beside = {u.span for u in (before, after) if u is not None}
        touching = next((p for p in extra if p.chunk.file == head.chunk.file and p.unit.span in beside), None)
        if touching is None:
            return head, extra
        extra.remove(touching)
        if after is not None and touching.unit.span == after.span:
            head = joined(head, head.unit, after)
        else:  # the passage now opens earlier: that sentence may point back in turn
            head = with_lead(joined(head, before, head.unit))


def joined_extras(extra: list[Pick]) -> list[Pick]:
    """The later units, those standing side by side joined as one passage
    (`with_adjacent` on each in turn): "When possible, your doctor will try to
    prevent the fracture." and the sentence after it are one quote."""
    out: list[Pick] = []
    rest = list(extra)
    while rest:
        passage, rest = with_adjacent(rest[0], rest[1:])
        out.append(passage)
    return out


def with_follower(head: Pick, ranked: list[Pick], read: dict[int, float], margin: float) -> Pick:
    """The best passage and the sentence right after it, as one passage, when
    that sentence goes on about it (opens with "It", "This"...) and the reader
    reads it as answering too: on leaflets nothing here was trained on, the
    reader's best was often the sentence naming what was asked ("The main
    result is called creatinine.") and the next one said it ("It is a waste
    product from your muscles..."). The text between is the chunk's own: verbatim."""
    follower = _next_unit(head)
    if follower is None or not opening(follower.text):
        return head
    same = (p for p in ranked if p.chunk.file == head.chunk.file and p.unit.span == follower.span)
    pick = next(same, None)
    if pick is None or read.get(pick.uid, NULL_LOGIT) < NULL_LOGIT + margin:
        return head
    return joined(head, head.unit, follower)


# A unit that opens with a pronoun ("It's more expensive than bisphosphonates")
# is about what the sentence before it names (Xgeva); one that names no
# treatment ("Possible side effects include ... the jaw") goes on speaking of
# the treatment the sentence before names (bisphosphonates).
def asked_names(query: str, text: str, ranked: list[Pick]) -> frozenset[str]:
    """The treatments a message asks about, whose facts alone may answer it: all
    that the resolved query names, except those only its story names when no unit
    read could answer without them. "The oncologist has started her on letrozole
    and wants her to have an infusion... What is this infusion?" asks about the
    infusion: filtered by the story's drug, every sentence read (bisphosphonates)
    was dropped and the message refused. Where a unit is left, the story's drugs
    still keep other treatments' facts out ("I'm on Zometa. What are the side effects?")."""
    named = names(query)
    if not named or any(not names_other(named_in(p), named) for p in ranked):
        return named
    said = sentences(text)
    asking = " ".join(s for s in said if is_question(s))
    story = names(" ".join(s for s in said if not is_question(s)))
    return named if not asking or names(asking) else named - story


def named_in(pick: Pick) -> str:
    """The text whose treatments a unit speaks of: its section heading and
    itself, with the sentence before when it opens with a pronoun, or when
    neither it nor its heading names a treatment."""
    own = f"{pick.chunk.section} {pick.unit.text}"
    previous = _previous_unit(pick)
    before = pick.before or (previous.text if previous is not None else "")
    if before and (opening(pick.unit.text) or not names(own)):
        return f"{pick.chunk.section} {before} {pick.unit.text}"
    return own

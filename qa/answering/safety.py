"""Urgent signs and the sources' own urgent-care advice, plus the disclaimer.

The advice is never written here: it is found in the corpus, by rule, as the
sentences that tell the reader to call a doctor or go to the emergency room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa.data import Chunk, Span, Unit

DISCLAIMER = (
    "Educational information from trusted patient-education sources, not medical advice. "
    "Ask your care team about your own situation."
)

# What a person might write when an urgent sign is happening to them.
_QUESTION_SIGNS = {
    "spinal cord compression": re.compile(
        r"spinal cord|cord compress|compress\w* (of )?(the )?(spine|cord)|paraly[sz]|"
        r"(weak|numb|tingl)\w*\W+(\w+\W+){0,4}(legs?|arms?|belly|feet)|(legs?|arms?)\W+(\w+\W+){0,3}(weak|numb|gave out|giving out)|"
        r"(lost|loss of|losing|no) (control of )?(my |his |her )?(bladder|bowel)|incontinen|can'?t (walk|stand|pee|urinate|feel my legs)|"
        r"(trouble|problems?|difficulty) (urinating|peeing|walking|standing)|"
        r"can'?t control (his |her |my |their )?(bladder|bowels?|pee|urine)|barely (pee|urinate|walk|stand)|"
        r"(hands?|arms?) (are |is |feel |feels |went |go )?(so |really )?(weak|numb)|dropping things",
        re.I,
    ),
    "high calcium": re.compile(
        r"hypercalc|high (blood )?calcium|calcium (is |levels? )?(high|up|rais)|confus|disorient|"
        r"(extreme(ly)?|very|always|so) thirst|thirsty all the time|drinking (so much|a lot|tons)|"
        r"sluggish|dehydrat|(very|so|really) (sleepy|drowsy)",
        re.I,
    ),
    "fracture": re.compile(
        r"\b(broke|broken|fractured|cracked|snapped)\b|sudden(ly)?\W+(\w+\W+){0,3}(pain|hurt)|"
        r"(severe|terrible|excruciating|unbearable)\W+(\w+\W+){0,2}pain|heard a (crack|snap)|can'?t move",
        re.I,
    ),
}
# The same signs as the sources name them, for spotting answers about them and
# the advice that goes with them, in British and American spelling alike.
_SOURCE_SIGNS = {
    "spinal cord compression": re.compile(
        r"spinal cord compression|\bMSCC\b|press(es|ing|ure)? (on|against) the (spinal )?cord", re.I
    ),
    "high calcium": re.compile(
        r"hypercalc(a)?emia|high (levels of )?(blood )?calcium|raised calcium|calcium levels? (in your blood )?get too high", re.I
    ),
    "fracture": re.compile(r"sign of (a )?(fracture|broken bone)|sudden,? severe (bone )?pain|broken bone", re.I),
}
# Advice to get help now: "call your doctor right away", "go to the emergency
# room", and the British "ring your 24-hour line", "go to A&E", "call 999".
_ADVICE = re.compile(
    r"emergency room|\bA&E\b|accident and emergency|\b999\b|\b911\b|"
    r"\b(call|alert|tell|let|ring|phone|contact)\b.{0,40}\b(doctor|nurse|medical team|care team|oncology team|"
    r"24-hour|24 hour|hospital|helpline)\b.{0,60}\b(right away|immediately|at once|straight away|urgently|now)\b|"
    r"\b(right away|immediately|straight away|urgently)\b.{0,60}\b(doctor|emergency|hospital|24-hour|24 hour)\b",
    re.I | re.S,
)


# Advice that points back at signs named just before it ("If you experience these
# symptoms, ...") is shown together with them; a lead-in to its own list is not.
_REFERS_BACK = re.compile(
    r"\b(these|those|such|the above|any of the above)\s+(\w+\s+){0,2}?(symptoms|signs|problems)\b|"
    r"\b(symptoms|signs) like (these|this)\b",
    re.I,
)
MAX_CONTEXT_UNITS = 3  # sentences of the same paragraph shown before such advice


def urgent_topics(text: str) -> list[str]:
    """Urgent signs that a question describes."""
    return [topic for topic, pattern in _QUESTION_SIGNS.items() if pattern.search(text)]


def answer_topics(texts: list[str]) -> list[str]:
    """Urgent signs that answer units talk about."""
    joined = " ".join(texts)
    return [topic for topic, pattern in _SOURCE_SIGNS.items() if pattern.search(joined)]


@dataclass(frozen=True)
class Advice:
    """A unit of urgent-care advice from the corpus and the chunk that holds it."""

    topic: str
    unit: Unit
    chunk: Chunk


# Advice that sends someone to emergency care now, for a sign happening now.
_EMERGENCY = re.compile(r"emergency|\bA&E\b|\b999\b|\b911\b|\b112\b|ambulance", re.I)


def sends_to_emergency(advice: Advice) -> bool:
    return bool(_EMERGENCY.search(advice.unit.text))


def advice_for(by_file: dict[str, dict[str, Advice]], topics: list[str], quoted: list[str] = (), now: bool = False) -> Advice | None:
    """The sources' advice for the first urgent topic that has some: from a
    document the answer quotes when that document gives advice on the topic
    (a clinic's own leaflet), else the corpus's best. `now`: advice that
    sends to emergency care first ("tell a doctor right away" is not enough
    for legs going weak today), the quoted document's before others'."""
    for topic in topics:
        own = by_file.get(topic, {})
        ranked = [own[file] for file in quoted if file in own] + list(own.values())
        if now:
            ranked = [a for a in ranked if sends_to_emergency(a)] + ranked
        if ranked:
            return ranked[0]
    return None


def find_advice(chunks: list[Chunk]) -> dict[str, Advice]:
    """For each urgent topic, the corpus unit that best tells what to do now."""
    return best_advice(advice_in_each_file(chunks))


def best_advice(by_file: dict[str, dict[str, Advice]]) -> dict[str, Advice]:
    """The strongest advice of each topic, from `advice_in_each_file`."""
    return {topic: next(iter(found.values())) for topic, found in by_file.items()}


def advice_in_each_file(chunks: list[Chunk]) -> dict[str, dict[str, Advice]]:
    """For each urgent topic, the best advice of each document that gives some,
    by file, strongest first: an answer quoting a clinic's own leaflet can bring
    that leaflet's advice."""
    return {
        topic: {file: advice for file, (_, advice) in sorted(found.items(), key=lambda item: -item[1][0])}
        for topic, found in _advice_by_file(chunks).items()
    }


def _advice_by_file(chunks: list[Chunk]) -> dict[str, dict[str, tuple[int, Advice]]]:
    """For each urgent topic and file, (strength, advice) of the unit that best tells what to do now.

    A unit qualifies when it says to call a doctor / go to the emergency room;
    it belongs to the topic its own words, its section or its chunk name most.
    """
    # Each file's units in reading order, to see the sentences before a unit
    # even when they sit in the previous chunk.
    ordered: dict[str, dict[int, Unit]] = {}
    for chunk in chunks:
        for unit in chunk.units:
            ordered.setdefault(chunk.file, {})[unit.span.start] = unit
    position = {file: sorted(units) for file, units in ordered.items()}
    best: dict[str, dict[str, tuple[int, Advice]]] = {}
    for chunk in chunks:
        for unit in chunk.units:
            if unit.is_question and not unit.text.rstrip().endswith(":"):
                continue
            if not _ADVICE.search(unit.text):
                continue
            # "If you notice symptoms like these..." is about the sentences just before it.
            starts = position[chunk.file]
            i = starts.index(unit.span.start)
            before = " ".join(ordered[chunk.file][s].text for s in starts[max(0, i - 2) : i])
            for topic, pattern in _SOURCE_SIGNS.items():
                signs = _QUESTION_SIGNS[topic]
                strength = (
                    4 * len(pattern.findall(unit.text))
                    + 2 * len(signs.findall(unit.text))
                    + 3 * len(pattern.findall(chunk.section))
                    + 2 * len(pattern.findall(before))
                    + len(signs.findall(before))
                )
                found = best.setdefault(topic, {})
                if strength and (chunk.file not in found or strength > found[chunk.file][0]):
                    found[chunk.file] = (strength, Advice(topic, unit, chunk))
    return {
        topic: {file: (strength, _with_signs(advice, chunks)) for file, (strength, advice) in found.items()}
        for topic, found in best.items() if found
    }


def refers_back(text: str) -> bool:
    """Advice that names no signs of its own but points at ones before it."""
    match = _REFERS_BACK.search(text)
    return match is not None and "\n" not in text[match.end() :] and not text.rstrip().endswith(":")


def _with_signs(advice: Advice, chunks: list[Chunk]) -> Advice:
    """Advice that points back at signs, widened to start with them: the sentences
    before it in its paragraph, or the paragraph (or list) just before it when it
    stands alone. The widened text is a verbatim slice of the same file, and its
    chunk is widened to match so the citation's quote holds it."""
    if not refers_back(advice.unit.text):
        return advice
    same_file = sorted((c for c in chunks if c.file == advice.chunk.file), key=lambda c: c.span.start)
    units = sorted({u.span.start: u for c in same_file for u in c.units}.values(), key=lambda u: u.span.start)
    i = next(k for k, u in enumerate(units) if u.span == advice.unit.span)
    start = i
    while start > 0 and i - start < MAX_CONTEXT_UNITS:
        gap = _text(same_file, units[start - 1].span.end, units[start].span.start)
        if gap is None or (start < i and "\n" in gap):
            break  # another section, or the paragraph begins here
        start -= 1
        if "\n" in gap:
            break  # the advice stands alone: the paragraph before it is enough
    if start == i:
        return advice
    span = Span(units[start].span.start, advice.unit.span.end)
    passage = Span(min(span.start, advice.chunk.span.start), max(span.end, advice.chunk.span.end))
    text, quote = _text(same_file, span.start, span.end), _text(same_file, passage.start, passage.end)
    if text is None or quote is None:
        return advice
    unit = Unit(span=span, text=text)
    chunk = replace(advice.chunk, span=passage, text=quote, units=(unit,))
    return Advice(advice.topic, unit, chunk)


def _text(chunks: list[Chunk], start: int, end: int) -> str | None:
    """The file's text from start to end, pieced together from its chunks; None
    where they leave a hole (text that is in no chunk, such as a heading)."""
    parts, at = [], start
    for chunk in chunks:
        if at >= end:
            break
        if chunk.span.start <= at < chunk.span.end:
            stop = min(end, chunk.span.end)
            parts.append(chunk.text[at - chunk.span.start : stop - chunk.span.start])
            at = stop
    if at < end:
        return None
    return "".join(parts)


def within(part: str, whole: str) -> bool:
    """The text of one unit is part of another's (the advice widened with its signs holds them)."""
    return " ".join(part.split()) in " ".join(whole.split())

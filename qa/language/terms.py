"""Words: tokenising, stemming, stop words, and the corpus vocabulary that
spots typos and terms the sources never use.

    >>> analyse("What are Zometa's side-effects?")
    ['zometa', 'zoledron', 'side', 'effect']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

TYPO_ZIPF = 3.0  # a word rarer than this in English may be a typo; a commoner one is meant
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# The word lists live in data/words.json, each with why it holds what it does.
_WORDS = json.loads((Path(__file__).with_name("data") / "words.json").read_text(encoding="utf-8"))
# Text-message spellings of stop words ("iz", "u"), written out when a question is spelled.
TEXT_SPEAK: Mapping[str, str] = MappingProxyType(dict(_WORDS["text_speak"]["pairs"]))
# Whole words only, and not in an initialism ("U of M": the University of Michigan).
_TEXT_SPEAK = re.compile(r"(?<![\w'’-])(" + "|".join(map(re.escape, TEXT_SPEAK)) + r")(?![\w'’-])(?!\s+of\s+\w\b)", re.I)
# Tell nothing of what a question is about (nor do their text-message spellings).
STOP_WORDS = frozenset(_WORDS["stop_words"]["words"]) | frozenset(TEXT_SPEAK)
ASPECT_WORDS = frozenset(_WORDS["aspect_words"]["words"])  # ask about an aspect of a subject: "side effects"
PEOPLE_WORDS = frozenset(_WORDS["people_words"]["words"])  # who asks, not what about: "my mom is worried"
SENTENCE_OPENERS = frozenset(_WORDS["sentence_openers"]["words"])  # where a run-in label ends
# Words of a message that only thanks, says goodbye, greets or agrees, by kind, and
# words that may stand beside them (qa.language.message.social_kind).
SOCIAL_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {kind: frozenset(_WORDS[f"{kind}_words"]["words"]) for kind in ("thanks", "farewell", "greeting", "agreeing")}
)
SOCIAL_FILLER = frozenset(_WORDS["social_filler_words"]["words"])
# Plain words and brand names next to the sources' words, expanded on both sides of a match.
SYNONYMS: Mapping[str, str] = MappingProxyType(dict(_WORDS["synonyms"]["pairs"]))
# word -> the other names of the same thing ("nurofen" -> ibuprofen, advil, motrin)
OTHER_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {word: tuple(w for w in group if w != word) for group in _WORDS["other_names"]["groups"] for word in group}
)


@cache
def _stemmer():
    import Stemmer  # PyStemmer: a Snowball stemmer in C, fast enough for the hot path

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-case word tokens, apostrophes kept inside words."""
    return _WORD.findall(text.lower().replace("’", "'"))


# "they've", "she'll", "we'd": a stop word and its contracted verb, a stop word too.
_CONTRACTED = re.compile(r"^([a-z]+)'(?:ve|ll|re|d|m)$")


def content_words(text: str) -> list[str]:
    """Words that are not stop words, possessive 's removed."""
    found = []
    for word in words(text):
        if word.endswith("'s"):
            word = word[:-2]
        contracted = _CONTRACTED.match(word)
        if contracted and contracted.group(1) in STOP_WORDS:
            continue  # "does it mean they've given up" was refused for naming "theyve"
        if word not in STOP_WORDS and len(word) > 1:
            found.append(word)
    return found


def subject_words(text: str) -> list[str]:
    """Content words that name what a question is about (not aspects of it, not people)."""
    return [w for w in content_words(text) if not _is_aspect_or_person(w.replace("'", ""))]


def topic_words(text: str) -> list[str]:
    """Subject words that name a topic: not ages or other plain numbers ("I'm 67" names none)."""
    return [w for w in subject_words(text) if not _PLAIN_NUMBER.match(w)]


def _is_aspect_or_person(word: str) -> bool:
    # Stems too: "starts" and "working" ask about an aspect like "start" and "work".
    return word in ASPECT_WORDS or word in PEOPLE_WORDS or stem(word) in _aspect_stems()


@cache
def _aspect_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in ASPECT_WORDS)


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


_BRITISH = ((re.compile(r"our(s?)$"), r"or\1"), (re.compile(r"^(h|an|p)ae"), r"\1e"), (re.compile(r"^oe"), "e"),
            (re.compile(r"tre(s?)$"), r"ter\1"), (re.compile(r"ise(s|d)?$"), r"ize\1"), (re.compile(r"ogue$"), "og"))


def american(word: str) -> str:
    """A British spelling in American: tumour -> tumor, anaemia -> anemia, oestrogen -> estrogen."""
    for pattern, replacement in _BRITISH:
        word = pattern.sub(replacement, word)
    return word


_NEGATION = re.compile(r"^(in|un|non)(?=[a-z]{5,})")


def positive_of(word: str) -> str | None:
    """The word a negated word negates, when it is an English word ('incurable' -> 'curable'); else None."""
    positive = _NEGATION.sub("", word)
    return positive if positive != word and english_frequency(positive) >= 2.0 else None


# A number, an age or an ordinal ("9", "4yo", "3rd", "70s"): never a subject the sources lack.
_PLAIN_NUMBER = re.compile(r"^\d+(?:yo|yrs?|st|nd|rd|th|s)?$")


def analyse(text: str) -> list[str]:
    """Stems of the content words: what BM25 and term overlap compare.

    A negated word also counts as its positive ('incurable' answers 'curable?').
    """
    stems = []
    for word in content_words(text):
        word = word.replace("'", "")
        stems.append(stem(word))
        if word in SYNONYMS:
            stems.append(stem(SYNONYMS[word]))
        positive = positive_of(word)
        if positive is not None:
            stems.append(stem(positive))
    return stems


# Questions that ask for a figure (a count, a cost, a dose, a rate, an address),
# and the words that give one.
_ASKS_FIGURE = re.compile(
    r"\bhow many\b|\bhow much\b[^?]*\b(cost|pay|charge)\b|\bcosts?\b|\bprice\b|\bpercent(age)?\b|"
    r"\b(what|which) (number|dose|dosage|level|value|amount)\b|\bnormal range\b|\bmg\b|\bmilligrams?\b|"
    r"\bgrays?\b|\baddress\b|\bphone\b|\b(survival|success|cure) rate\b|\bdos(e|es|age|ing)\b|"
    r"\blife expectancy\b|\bhow long\b.{0,40}\b(live|survive|left)\b|\bpercentage\b|\bwhat are the odds\b",
    re.I,
)
_FIGURE = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|half|third|quarter|percent|once|twice|dozen|daily|weekly|monthly|yearly|every)\b",
    re.I,
)


def asks_for_figure(question: str) -> bool:
    """Whether a question asks for a number: 'how many sessions?', 'what does it cost?'."""
    return bool(_ASKS_FIGURE.search(question))


def states_figure(text: str) -> bool:
    """Whether a text gives a number, in digits or words."""
    return bool(_FIGURE.search(text))


# "what is X?" and "what does X mean?": X is the term the question asks to define.
_ASKS_DEFINITION = re.compile(
    r"^\W*(?:what\s+(?:exactly\s+|really\s+)?(?:is|are)|what's|whats)\s+(?:exactly\s+)?(?:an?\s+|the\s+)?(?P<term>[a-z0-9][\w\s'-]{1,40}?)\W*$|"
    r"^\W*what\s+does\s+(?:an?\s+|the\s+)?(?P<term2>[a-z0-9][\w\s'-]{1,40}?)\s+mean\b",
    re.I,
)


def defined_term(question: str) -> str | None:
    """The term a 'what is X?' / 'what does X mean?' question asks to define.

    >>> defined_term("what is a dexa scan?")
    'dexa scan'
    """
    match = _ASKS_DEFINITION.match(question)
    if match is None:
        return None
    term = (match.group("term") or match.group("term2")).strip().lower()
    return term if 1 <= len(term.split()) <= 3 and subject_words(term) else None


@lru_cache(maxsize=65536)  # words people type: bounded, so a server's memory stays flat
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def english_frequency(word: str) -> float:
    """Zipf frequency of a word in general English (0 = unknown, 7 = 'the')."""
    return _zipf(word)


@dataclass
class Vocabulary:
    """The words and stems of the corpus, for spelling fixes and coverage."""

    words: frozenset[str]
    stems: frozenset[str]
    _sorted: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def from_texts(cls, texts: list[str]) -> "Vocabulary":
        found = {w.replace("'", "") for text in texts for w in content_words(text)}
        # "meet-up" is also "meetup": people write compounds either way.
        found |= {m.replace("-", "") for text in texts for m in re.findall(r"[a-z]+(?:-[a-z]+)+", text.lower())}
        # A British text answers an American question: "anemia" meets "anaemia"
        # (`knows` turns the question's word American; the corpus's is turned here).
        found |= {american(w) for w in found}
        return cls(frozenset(found), frozenset(stem(w) for w in found), sorted(found))

    def knows(self, word: str) -> bool:
        """In the corpus as written, by stem, in American spelling ("tumours"),
        or through a plain-word synonym ("radiotherapy" is "radiation")."""
        # A negated word is known by its positive: "infertile" by "fertility".
        for form in dict.fromkeys((word, american(word), SYNONYMS.get(word, word), positive_of(word) or word)):
            if form in self.words or stem(form) in self.stems:
                return True
        return False

    def contains(self, word: str) -> bool:
        """Whether a corpus word holds this one ('curable' in 'incurable') or
        shares most of its start ('nauseous' and 'nausea')."""
        if len(word) < 5:
            return False
        prefix = word[: max(5, round(0.6 * len(word)))]
        return any(word in known or known.startswith(prefix) for known in self._sorted)

    def correct(self, word: str) -> str | None:
        """The corpus word a misspelt word most likely means, if one is close."""
        if self.knows(word):
            return word
        if len(word) < 5 or word.isdigit():
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import (
            OSA,  # a swapped pair of letters counts as one edit
        )

        limit = 1 if len(word) < 8 else 2
        matches = process.extract(word, self._sorted, scorer=OSA.distance, score_cutoff=limit, limit=10)
        if not matches and len(word) >= 8:
            # A long word misspelt and inflected otherwise than the corpus has it
            # ("pathalogical", the corpus's "pathologic"): its stem is one edit away.
            found = process.extract(stem(word), self._stem_of, scorer=OSA.distance, score_cutoff=1, limit=10)
            matches = [(known, d, s) for s, d, known in found]  # a mapping's matches end with its key
        if not matches:
            return None
        # Closest first; among equals, the one sharing the first letter, then the commonest.
        best = min(matches, key=lambda m: (m[1], m[0][0] != word[0], -english_frequency(m[0])))
        return best[0]

    @cached_property
    def _stem_of(self) -> dict[str, str]:
        """The shortest corpus word of each stem, with its stem (what a misspelt stem is matched against)."""
        shortest: dict[str, str] = {}
        for word in sorted(self._sorted, key=len):
            shortest.setdefault(stem(word), word)
        return {word: s for s, word in shortest.items()}

    def fix_spelling(self, text: str) -> str:
        """Replace words that are neither in the corpus nor common English by the
        closest corpus word: 'metastisis' -> 'metastasis', 'xgevaa' -> 'xgeva'."""

        def fix(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            if not word.isascii():  # "métastases": never patch the ASCII part of a foreign word
                return word
            # A rare name the documents give otherwise ("nurofen" where they say "ibuprofen",
            # "tylenol" where a British leaflet says "paracetamol") is read as theirs, as a typo
            # is: the reader reads the question's words, and these it never saw beside the answer.
            # Common words ("chemo" where a leaflet says "chemotherapy") stay as typed.
            if lower in OTHER_NAMES and english_frequency(lower) < TYPO_ZIPF and lower not in self.words:
                theirs = [other for other in OTHER_NAMES[lower] if other in self.words]
                if theirs:
                    return theirs[0]
            if lower in STOP_WORDS or self.knows(lower) or english_frequency(lower) >= TYPO_ZIPF:
                return word
            fixed = self.correct(lower)
            return word if fixed is None else fixed

        text = _TEXT_SPEAK.sub(lambda m: TEXT_SPEAK[m.group(0).lower()], text)
        return re.sub(r"[^\W\d_]+", fix, text)

    def unknown_words(self, text: str) -> list[tuple[str, float]]:
        """Subject words the corpus never uses (typos fixed first), each with its
        English frequency: low for names of drugs, diseases, places."""
        unknown = []
        for word in subject_words(text):
            word = word.replace("'", "")
            zipf = english_frequency(word)
            if _PLAIN_NUMBER.match(word) or self.knows(word) or self.contains(word):
                continue
            if zipf < TYPO_ZIPF and self.correct(word) is not None:
                continue  # a misspelt corpus word, not a new one
            unknown.append((word, zipf))
        return unknown


_LABEL_WORD = re.compile(r"\S+")
LABEL_MAX_WORDS = 8


def run_in_label(text: str) -> int:
    """Where a list item's label ends when extraction lost its stop, else 0:
    "Spinal cord compression When cancer spreads..." -> 23. The label is at
    most LABEL_MAX_WORDS words without a stop, the sentence after it opens
    with a capitalised word of SENTENCE_OPENERS or the label's last word again
    ("Radiation Radiation therapy..."), and goes on in lower case (not a
    title: "Signs That Breast Cancer Has Spread").

    >>> run_in_label("Bone pain Pain is the most common symptom.")
    9
    >>> run_in_label("It may come and go at first.")
    0
    """
    found = list(_LABEL_WORD.finditer(text[:300]))
    if not found or not found[0].group()[:1].isupper():
        return 0
    for before, word, after in zip(found[:LABEL_MAX_WORDS], found[1:LABEL_MAX_WORDS + 1], found[2:]):
        previous, token = before.group(), word.group()
        if previous.rstrip("\"'”’)")[-1:] in (".", ":", ";", "!", "?"):
            return 0  # a sentence ended: this is no label run into one
        if not (token[:1].isupper() and token[1:2].islower()):
            continue
        bare = token.rstrip(",.;:")
        opens = bare.lower() in SENTENCE_OPENERS or bare.lower() == previous.rstrip(",").lower()
        if opens and after.group()[:1].islower():
            return before.end()
    return 0

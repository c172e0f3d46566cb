"""Follow-up questions: "what are its side effects?" after "what is zometa?"
becomes "what are its side effects? zometa".

A question that names its own subject is left as it is, whatever came before.
"""

from __future__ import annotations

import re

from qa.language.message import is_question
from qa.language.terms import english_frequency, subject_words
from qa.settings import RARE_ZIPF

_POINTS_BACK = re.compile(r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|him|her|his)\b", re.I)
_POSSESSIVE = frozenset({"its", "their", "theirs", "his", "her"})
_CLAUSE_BREAK = re.compile(r"[,;.?!]|\b(?:and|but|or|so|because|if|when|then)\b", re.I)
_CLAUSES = re.compile(r"[,;]\s+|(?<=[.!?])\s+")
_CONTINUES = re.compile(r"^\s*(and|also|but|so|what about|how about|same for|and what about|what else|anything else|ok so)\b", re.I)
# "and how tight should they be?" continues with a question of its own, not the earlier one asked again.
_OWN_QUESTION = re.compile(
    r"^\s*(?:and|also|but|so|ok so)\s+(?:how|what|whats|when|where|why|which|who|is|are|does|do|did|can|could|will|would|should)\b"
    r"(?!\s+(?:about|else)\b)", re.I)


def points_back(question: str) -> bool:
    """Whether the question has a word pointing at something said before ("it", "they")."""
    return bool(_POINTS_BACK.search(question))


def names_a_thing(subject: list[str]) -> bool:
    """A word rarer in English than RARE_ZIPF names a thing of its own ("keytruda",
    "immunotherapy"), not an aspect of the earlier subject ("stay", "insurance",
    "injection": "what is xgeva and how often is the injection given?" read alone
    quoted a radionuclide's "The treatment is given once")."""
    return any(english_frequency(word) < RARE_ZIPF for word in subject)


def is_followup(question: str) -> bool:
    """True when the question leans on an earlier turn for its subject: it
    continues one ("and for..."), names no subject, or has a pronoun with
    nothing in the question it could stand for ("which drugs can cause it?")."""
    subject = subject_words(question)
    if _CONTINUES.match(question):
        # "and is keytruda an immunotherapy?" asks about a thing of its own: read with the
        # earlier subject, the earlier answer would pass for its answer. "and will I have to
        # stay in?" names only an everyday word: it goes on about the earlier subject.
        return not (_OWN_QUESTION.match(question) and names_a_thing(subject) and not points_back(question))
    if not subject:
        return True
    pointer = _POINTS_BACK.search(question)
    if pointer is None or len(subject) > 2:
        return False
    before = question[: pointer.start()]
    if pointer.group(0).lower() not in _POSSESSIVE:
        # "it" never stands for a noun of its own clause ("which drugs can cause
        # it?"), only for one of an earlier clause ("what is xgeva and how
        # does it work?"); "its" can ("bone mets and its treatment").
        before = "".join(_CLAUSE_BREAK.split(before)[:-1])
    return not subject_words(before)


def resolve(question: str, history: list[str] | tuple[str, ...]) -> str:
    """The question with the subject of the conversation added where it leans back on it."""
    if not history or not is_followup(question):
        return question
    return with_subject(question, history)


def with_subject(question: str, history: list[str] | tuple[str, ...]) -> str:
    """The question plus the subject of the latest earlier turn that has one."""
    if not history:
        return question
    earlier = resolve(history[-1], history[:-1])
    if _CONTINUES.match(question) and subject_words(question) and not _OWN_QUESTION.match(question):
        # "and for breast cancer?" asks the earlier question again about something new.
        return f"{earlier} {question}"
    subject = asked_subject(earlier)
    if not subject:
        return with_subject(question, history[:-1]) if len(history) > 1 else question
    return f"{question} {' '.join(dict.fromkeys(subject))}"


def asked_subject(text: str) -> list[str]:
    """The subject words of the clauses of `text` that ask ("I'm 67 and on
    tamoxifen, what is zometa?" -> zometa): a follow-up is about what was asked,
    not about the age or the other medicine of the story around it. All of the
    text's subject words when its asking clauses name none ("My mum has breast
    cancer in her spine, what can help?") or point back into the story ("...,
    does that matter?")."""
    asking = [c for c in _CLAUSES.split(text) if is_question(c)]
    if any(points_back(c) for c in asking):
        return subject_words(text)  # "my dad takes loads of pills, does that matter with chemo"
    return [w for c in asking for w in subject_words(c)] or subject_words(text)

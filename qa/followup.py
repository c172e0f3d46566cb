"""Follow-up questions: "what are its side effects?" after "what is zometa?"
becomes "what are its side effects? zometa".

A question that names its own subject is left as it is, whatever came before.
"""

from __future__ import annotations

import re

from qa.terms import ASPECT_WORDS, content_words

_POINTS_BACK = re.compile(r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|him|her|his)\b", re.I)
_CONTINUES = re.compile(r"^\s*(and|also|but|so|what about|how about|same for|and what about|what else|anything else|ok so)\b", re.I)
def subject_words(question: str) -> list[str]:
    """Content words that name what a question is about (not aspects of it)."""
    return [w for w in content_words(question) if w.replace("'", "") not in ASPECT_WORDS]


def is_followup(question: str) -> bool:
    """True when the question leans on an earlier turn for its subject."""
    subject = subject_words(question)
    if _CONTINUES.match(question):
        return True
    if not subject:
        return True
    return bool(_POINTS_BACK.search(question)) and len(subject) <= 1 and len(content_words(question)) <= 3


def resolve(question: str, history: list[str] | tuple[str, ...]) -> str:
    """The question with the subject of the conversation added where it leans back on it."""
    if not history or not is_followup(question):
        return question
    earlier = resolve(history[-1], history[:-1])
    if _CONTINUES.match(question) and subject_words(question):
        # "and for breast cancer?" asks the earlier question again about something new.
        return f"{earlier} {question}"
    subject = subject_words(earlier)
    if not subject:
        return question
    return f"{question} {' '.join(dict.fromkeys(subject))}"

"""Each question prepared once per turn: cleaned, checked, spelling fixed,
split into its question sentences and resolved against the conversation. Every
later stage reads this prepared form; none cleans or spells again.

    >>> preparer = Preparer(vocabulary)
    >>> q = preparer.prepare("what are its side efects?", history=["what is zometa?"])
    >>> q.spelled, q.query
    ('what are its side effects?', 'what are its side effects? zometa')
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from qa.language.followup import resolve
from qa.language.message import focus, question_parts, social_kind, standalone, story_before
from qa.language.terms import Vocabulary, english_frequency
from qa.language.text import normalise_text
from qa.settings import MAX_QUESTION_CHARS


@dataclass(frozen=True)
class Turn:
    """One message on its own: cleaned, its spelling fixed, why it can't be asked
    ('' when it can), and whether it only thanks, greets, agrees or says goodbye (`social_kind`)."""

    text: str
    spelled: str
    problem: str
    social: str = ""


@dataclass(frozen=True)
class Prepared:
    """A question as every stage reads it.

    `text` is the message cleaned (what the user wrote, as text); `spelled` the
    same with spelling fixed against the sources' words; `query` the spelled
    question resolved against the conversation (what retrieval searches for);
    `earlier` the usable earlier turns, spelled, oldest first; `parts` the
    question sentences of a long message (one part: the whole message);
    `story` the spelled story sentences just before a long message's first
    question, which its parts lean on for their subject ('' when none);
    `last_text` the latest of `earlier` as written (cleaned, not spelled): the
    text its own turn was read with, so a follow-up finds that reading; `social`
    'thanks', 'greeting', 'agreeing' or 'farewell' for a message that only says that, which no
    passage answers ('' otherwise; such turns are left out of `earlier`); `focus`,
    for a post longer than the Preparer's `long_words`, its story and questions
    (qa.language.message.focus), spelled and resolved: what the answer is read
    from ('' otherwise; triage still reads the whole `query`)."""

    text: str
    spelled: str
    query: str
    problem: str
    earlier: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    story: str = ""
    last_text: str = ""
    social: str = ""
    focus: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def asked(self) -> str:
        """What the message asks: a long post's question sentences, else the whole message."""
        return " ".join(self.parts) if self.focus else self.text

    @property
    def is_followup(self) -> bool:
        """It leaned on the conversation: the earlier subject was added."""
        return self.query != self.spelled


def clean_question(text: str) -> str:
    """Plain text of a question: tags removed, entities decoded, spaces folded."""
    text = normalise_text(text)
    # An unclosed <script> runs to the end, as in HTML: one scan, where requiring
    # the end tag rescanned the rest from every "<script" (48 s for 256 KB of them).
    text = re.sub(r"<(script|style)\b.*?(?:</\1\s*>|\Z)", " ", text, flags=re.I | re.S)
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = html.unescape(text)
    return " ".join(text.split())


def problem_with(text: str, vocabulary: Vocabulary) -> str:
    """A plain message when the (cleaned) question can't be asked as it is, else ''."""
    if not text:
        return "Please type a question about bone metastasis."
    if len(text) > MAX_QUESTION_CHARS:
        return f"That message is {len(text):,} characters long; please ask in under {MAX_QUESTION_CHARS:,}."
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2 or sum(not c.isprintable() for c in text) > 0.1 * len(text):
        return "That doesn't look like a question. Please type your question in words."
    if sum(c.isascii() for c in letters) < 0.7 * len(letters):
        return "I can only answer questions in English, from English-language sources."
    tokens = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 2]
    english = [w for w in tokens if english_frequency(w) >= 2.5 or vocabulary.knows(w)]
    if len(tokens) >= 3 and len(english) < 0.5 * len(tokens):
        return "I can only answer questions in English, from English-language sources."
    return ""

# A follow-up leans on the last question or two; a subject from further back is
# stale. Reading at most this many keeps a 50-question history as cheap as a short one.
EARLIER_TURNS = 8


class Preparer:
    """Prepares questions against one vocabulary (the sources' words)."""

    def __init__(self, vocabulary: Vocabulary, followups: bool = True, max_parts: int = 3, cache_size: int = 256,
                 long_words: int = 0) -> None:
        self.vocabulary = vocabulary
        self.followups = followups
        self.max_parts = max_parts
        self.long_words = long_words  # a post longer is read by its questions (`focus`); 0: never
        # Turns seen recently (a conversation's history, message parts) are
        # prepared once, not again on every later turn. Bounded, so a server's
        # memory does not grow with what people type.
        self.turn = lru_cache(maxsize=cache_size)(self._turn)

    def _turn(self, message: str) -> Turn:
        text = clean_question(message)
        problem = problem_with(text, self.vocabulary)
        return Turn(text, self.vocabulary.fix_spelling(text), problem, "" if problem else social_kind(text))

    def earlier(self, history) -> tuple[str, ...]:
        """The usable earlier questions, spelling fixed, oldest first; junk left
        out; only the last EARLIER_TURNS are read, so the work per question does
        not grow with a long conversation."""
        return tuple(t.spelled for t in self._earlier_turns(history))

    def _earlier_turns(self, history) -> list[Turn]:
        recent = [h for h in history if isinstance(h, str)][-EARLIER_TURNS:]
        # "thanks" names no subject and got no answer: a follow-up leans on the question before it.
        return [t for t in map(self.turn, recent) if t.text and not t.problem and not t.social]

    def prepare(self, message: str, history=()) -> Prepared:
        """The prepared form of a message and the earlier questions of its conversation."""
        if not isinstance(message, str):
            raise ValueError(f"question must be a string, got {type(message).__name__}")
        turn = self.turn(message)
        turns = self._earlier_turns(history)
        earlier = tuple(t.spelled for t in turns)
        last = turns[-1].text if turns else ""
        if turn.problem:
            return Prepared(turn.text, turn.spelled, turn.spelled, turn.problem, earlier, (turn.text,), last_text=last)
        if turn.social:
            return Prepared(turn.text, turn.spelled, turn.spelled, "", earlier, (turn.text,), last_text=last, social=turn.social)
        query = resolve(turn.spelled, earlier) if self.followups else turn.spelled
        long = 0 < self.long_words < len(turn.text.split())
        parts = tuple(question_parts(turn.text, self.max_parts, marked=long))
        story = story_before(turn.text, marked=long) if parts != (turn.text,) else ""
        spelled_story = self.turn(story).spelled if story else ""
        read_by = ""
        if long and parts != (turn.text,):
            read_by = self.turn(focus(story, parts)).spelled
            read_by = resolve(read_by, earlier) if self.followups else read_by
        return Prepared(turn.text, turn.spelled, query, "", earlier, parts, spelled_story, last, focus=read_by)

    def part(self, part: str, earlier: tuple[str, ...]) -> Prepared:
        """One question sentence of a long message, resolved against the conversation
        and the parts before it (`earlier`, already spelled)."""
        turn = self.turn(part)
        query = resolve(turn.spelled, earlier) if self.followups else turn.spelled
        # A joining "and" says whether the part leans back; it is read without it.
        text, spelled, query = standalone(turn.text), standalone(turn.spelled), standalone(query)
        return Prepared(text, spelled, query, turn.problem, earlier, (text,))

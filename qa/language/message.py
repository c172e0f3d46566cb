"""Long messages: people tell their story first ("My father is 65 and has
prostate cancer... what can help with the pain?"). The question sentences are
what to answer; the story around them only adds noise to the search.

    >>> question_parts("My mum has breast cancer. It spread to her hip. How is it treated?")
    ['How is it treated?']
"""

from __future__ import annotations

import re

from qa.language.terms import SOCIAL_FILLER, SOCIAL_WORDS, content_words, words

# A sentence that opens like a question, with or without its question mark.
_ASKS = re.compile(
    r"^\W*(?:and\s+|but\s+|so\s+|also\s+|ok\s+|okay\s+)?(?:what|whats|how|hows|why|when|where|which|who|whom|whose|"
    r"can|cant|could|should|shall|is|isnt|are|arent|am|was|were|do|dont|does|doesnt|did|will|would|may|might|"
    r"has|have|had|any|anything|tell me|explain|please)\b",
    re.I,
)
# "And what is X?" asks about X alone once it stands apart from the question before it.
_LEADING_AND = re.compile(r"^(?:and|also|but|so|ok|okay)\b[\s,]*", re.I)
_JOINING = re.compile(r"^(?:and|or)\b[\s,]*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WH_WORDS = r"what|whats|how|why|when|where|which|who"
# "..., and does it hurt?": a second question joined to the first by "and" or
# "or". An auxiliary counts only before its subject ("and is it chemo", not
# "and is suddenly confused"; "and do I need", not "and do weights").
_JOINED = re.compile(
    rf",?\s+(?:and|or)\s+(?=(?:{_WH_WORDS})\b|"
    r"(?:is|are|does|do|did|can|could|should|will|would|has|have)\s+"
    r"(?:it|they|i|you|we|he|she|that|this|there|the|my|his|her|their|your|a|an)\b)",
    re.I,
)
MIN_PART_WORDS = 3
_WH = re.compile(rf"\b(?:{_WH_WORDS})\b", re.I)  # "Roughly how long is..."
MIN_STORY_SENTENCES = 2  # a message this long or longer may hold story around its question


def sentences(text: str) -> list[str]:
    """The message cut at sentence ends and line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# "I'm 67 and on tamoxifen, what is zometa?": a comma, then a clause that asks.
# Not "which" or "who": after a comma they mostly open a relative clause ("..., which sounds mad").
_THEN_ASKS = re.compile(r",\s+(?=(?:what|whats|how|why|can|could|should|is|are|do|does|will)\b)", re.I)


def clauses(text: str) -> list[str]:
    """The message's sentences; one sentence is cut where a story clause gives
    way to a question after a comma ("I'm 67, what is zometa?" -> "I'm 67",
    "what is zometa?"), unless the clause before asks too. (In a longer message
    a sentence stays whole: its story clause is what its question is about.)"""
    found = sentences(text)
    cut = _THEN_ASKS.search(found[0]) if len(found) == 1 else None
    if cut is None or is_question(found[0][: cut.start()]):
        return found
    return [found[0][: cut.start()].strip(), found[0][cut.end():].strip()]


def is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or bool(_ASKS.match(sentence))


def question_parts(text: str, max_parts: int = 3, marked: bool = False) -> list[str]:
    """The question sentences of a message, at most `max_parts`; the whole
    message when it is one sentence or asks nothing in question form. `marked`
    (a long post): where any sentence ends with a question mark, only those ask;
    a post's "Can I just say how grateful I am to this group." does not."""
    found = clauses(text)
    if len(found) < MIN_STORY_SENTENCES:
        # "what is a bone scan and does it hurt": one sentence, two questions.
        things = compared(text)
        if things != [text]:  # "zometa vs xgeva" asks without a question word
            return things
        return [p for q in joined_questions(text) for p in compared(q)][:max_parts] if is_question(text) else [text]
    asks = _asks(found, marked)
    asked = [part for s in found if asks(s) for q in joined_questions(_LEADING_AND.sub("", s)) for part in compared(q)]
    return asked[:max_parts] if asked else [text]


# "whats the difference between zometa and xgeva", "bone scan vs pet scan": two
# subjects, each answered on its own. Read whole, the reader found no sentence
# that compares them (none of the sources does) and the question was refused,
# though each is described ("what is zometa and what is xgeva" was answered).
# The question as typed is read here, so "diffrence" and "diference" count too.
_BETWEEN = re.compile(r"\bdif+e?r+[ae]?n[ct]\w*\s+between\s+(?P<a>[^,;?]+?)\s+and\s+(?P<b>[^,;?]+?)\s*(?:[?.!]+\s*)?$", re.I)
_VERSUS = re.compile(r"^\W*(?P<a>[^,;?]+?)\s+(?:vs\.?|versus)\s+(?P<b>[^,;?]+?)\s*(?:[?.!]+\s*)?$", re.I)
_NOT_A_SUBJECT = re.compile(r"^(?:it|its|them|they|these|those|this|that|both|the two|the 2|each|either|one)$", re.I)
_ASKING_WORDS = re.compile(r"^(?:(?:what|whats|what's|which|is|are|about|the|difference|better|for|me)\s+)+", re.I)
_WHAT_FOR = re.compile(r"\s+(?:(?:which|what)\s.*|better|worse|best|for\s.*|in\s.*|when\s.*)$", re.I)
# "systemic and local treatment", "palliative and curative care": one word that reads as
# a describing word shares the noun after the other ("zometa and high calcium" do not).
_ADJECTIVE = re.compile(r"(?:ic|al|ive|ary|ous)$", re.I)
MAX_SUBJECT_WORDS = 6
MAX_VERSUS_WORDS = 3


def compared(question: str) -> list[str]:
    """A question comparing two named things, as one question about each
    ("what is zometa?", "what is xgeva?"); any other question as it is."""
    match = _BETWEEN.search(question) or _VERSUS.match(question)
    if match is None:
        return [question]
    a, b = (_ASKING_WORDS.sub("", match.group(name)).strip() for name in ("a", "b"))
    b = _WHAT_FOR.sub("", b)  # "zometa vs xgeva for bone mets": xgeva
    # "A vs B" is a question only when that is all it says ("what parts of you does
    # graft versus host go for" names one disease): a few words each side.
    most = MAX_SUBJECT_WORDS if match.re is _BETWEEN else MAX_VERSUS_WORDS
    if not a or not b or any(_NOT_A_SUBJECT.match(x) or len(x.split()) > most for x in (a, b)):
        return [question]
    if match.re is _BETWEEN and len(a.split()) == 1 and _ADJECTIVE.search(a) and len(b.split()) > 1:
        a = f"{a} {b.split()[-1]}"
    return [f"what is {a}?", f"what is {b}?"]


def _asks(found: list[str], marked: bool):
    """What counts as a question among these sentences (see question_parts)."""
    if marked and any(s.rstrip().endswith("?") for s in found):
        return lambda sentence: sentence.rstrip().endswith("?")
    return is_question


def focus(story: str, parts: list[str] | tuple[str, ...]) -> str:
    """What a long post is read by: its question sentences, after the story
    sentences just before the first (what "it" there stands for). Read whole, the
    models see only its start (the reader reads 128 tokens of question and unit
    together), and a question at the end is lost."""
    return " ".join([story, *parts]).strip()


def joined_questions(sentence: str) -> list[str]:
    """A question sentence cut where a second question is joined to it ("How
    long is the MRI, and how long does the PET scan take?"); each side a question
    of at least MIN_PART_WORDS words, else the sentence whole."""
    match = _JOINED.search(sentence)
    if match is None:
        return [sentence]
    first, second = sentence[: match.start()].strip(), sentence[match.end():].strip()
    if not (is_question(first) or _WH.search(first)) or min(len(first.split()), len(second.split())) < MIN_PART_WORDS:
        return [sentence]
    # The second keeps its "and": it goes on about the first's subject ("how long does the
    # nephrostomy take and will I have to stay in"), which a follow-up's resolution adds.
    joined = sentence[match.start():].strip().lstrip(",").strip()
    return [first, *joined_questions(joined)]


def standalone(part: str) -> str:
    """A part as a line of its own: without the "and" that joined it, spaces folded."""
    return " ".join(_JOINING.sub("", part.strip()).split())


STORY_SENTENCES = 2  # the story sentences nearest the question: older ones name older things


def story_before(text: str, marked: bool = False) -> str:
    """The story sentences just before a long message's first question ("We
    are in shock. The oncologist mentioned denosumab injections."): what "it"
    or "that" in the question most likely stands for. '' when there are none.
    `marked` as for question_parts."""
    found = clauses(text)
    asks = _asks(found, marked)
    first = next((n for n, sentence in enumerate(found) if asks(sentence)), 0)
    story = [s for s in found[max(0, first - STORY_SENTENCES):first] if not asks(s)]
    return " ".join(story)


def cut_at_word(text: str, limit: int) -> str:
    """The start of `text`, at most `limit` characters, ending at a whole word
    (one endless "word" is cut at the limit)."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return (cut[:space] if space > 0 else cut[:limit]).rstrip()


def shorten(text: str, limit: int) -> tuple[str, bool]:
    """A message cut to `limit` characters that never loses its questions: when
    the questions it asks (the last three) lie past the cut, as much of its start
    as fits, then those questions. (shortened text, whether questions were moved up)."""
    plain = cut_at_word(text, limit)
    if len(text) <= limit:
        return text, False
    lost = [s for s in sentences(text[len(plain):]) if is_question(s)][-3:]
    tail = " ".join(lost)
    if not lost or len(tail) > limit // 2:
        return plain, False
    return f"{cut_at_word(text, limit - len(tail) - 1)} {tail}", True


# "good morning" greets; "morning" alone is a time ("out of it all afternoon").
_GOOD_TIME = re.compile(r"\bgood\s+(?:morning|afternoon|evening|day)\b", re.I)
_SOCIAL_ALLOWED = SOCIAL_FILLER.union(*SOCIAL_WORDS.values())


def social_kind(text: str) -> str:
    """'thanks', 'farewell', 'greeting' or 'agreeing' for a message that only
    thanks, says goodbye, greets or agrees ("thank you so much, that makes sense",
    "ok bye", "hello, can anyone help?", "got it"); '' for one that asks or tells
    anything. Every word is such a word, a filler word ("really helpful") or a stop
    word; a question ("is that ok", "should i take someone with me") only thanks
    or greets ("hello, can anyone help?"), and no question word asks ("ok, why?")."""
    if _WH.search(text):
        return ""
    text = _GOOD_TIME.sub("hello", text)
    if any(word.replace("'", "") not in _SOCIAL_ALLOWED for word in content_words(text)):
        return ""
    said = set(words(text))
    kind = next((kind for kind, listed in SOCIAL_WORDS.items() if said & listed), "")
    return "" if kind in ("agreeing", "farewell") and is_question(text) else kind

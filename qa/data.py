"""Frozen dataclasses passed between the pipeline stages.

Every offset is a character offset into the raw text of a `Document`, so any
piece of an answer can be traced back to the exact words of its source.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) in a document's raw text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"span needs 0 <= start <= end, got {self.start}..{self.end}")


@dataclass(frozen=True)
class Article:
    """One article inside a document; most documents hold exactly one."""

    id: str
    title: str
    publisher: str
    reviewed: str | None
    span: Span
    url: str | None = None  # the original page, where the document or metadata gives one


@dataclass(frozen=True)
class Extraction:
    """The text of a PDF or Word file as this program reads it (the stored
    extraction every offset of its units refers to), with where each page starts."""

    text: str
    pages: tuple[int, ...] = ()  # start offset of page 1, 2, ... in `text`; () when the file has no pages
    title: str | None = None  # the file's own title, when it gives a real one


@dataclass(frozen=True)
class Document:
    """A source file as read from the corpus folder.

    `text` is the file's decoded text (for HTML, the text the page shows), and
    the source of truth for every offset.
    """

    id: str
    path: str
    title: str
    publisher: str
    text: str
    articles: tuple[Article, ...]
    content_start: int = 0  # text before this offset is site chrome (navigation)
    pages: tuple[int, ...] = ()  # a PDF's page starts in `text`; () for files without pages

    def page_at(self, offset: int) -> int | None:
        """The page (from 1) that the text at `offset` is on, or None without pages."""
        return bisect.bisect_right(self.pages, offset) if self.pages else None

    def article_at(self, offset: int) -> Article:
        for article in self.articles:
            if article.span.start <= offset < article.span.end:
                return article
        return self.articles[-1]


@dataclass(frozen=True)
class Unit:
    """The smallest piece an answer is built from: a sentence, a list item, or
    a lead-in sentence together with the list it introduces."""

    span: Span
    text: str
    is_question: bool = False
    page: int | None = None  # the PDF page it starts on (from 1); None for files without pages


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: consecutive units of one section of one article."""

    id: int
    doc_id: str
    article_id: str
    file: str  # the source file's name inside the corpus folder
    title: str
    publisher: str
    section: str
    span: Span
    text: str
    units: tuple[Unit, ...]
    also_in: tuple[str, ...] = ()  # other documents that repeat this passage
    url: str | None = None  # the article's original page, if known
    pages: tuple[int, ...] = ()  # the first and last PDF page of its text ((3,) on one page); () without pages
    reviewed: str | None = None  # the article's review date as the metadata writes it


@dataclass(frozen=True)
class Passage:
    """A chunk returned by retrieval, with its fused score and rank."""

    chunk: Chunk
    score: float
    rank: int
    dense: float = 0.0  # cosine similarity of the query to the chunk


@dataclass(frozen=True)
class Citation:
    """The source of one or more answer units: marker `[n]` in the answer."""

    n: int
    doc_id: str
    title: str
    publisher: str
    section: str
    quote: str
    span: Span
    file: str
    also_in: tuple[str, ...] = ()
    url: str | None = None  # the original page, if the document or metadata gives one
    pages: tuple[int, ...] = ()  # the PDF pages the quote is on; () for files without pages
    reviewed: str | None = None  # the source's review date as written in its metadata ("September 14, 2011")

    @property
    def reviewed_year(self) -> int | None:
        """The year of the review date ("02/07/2014" -> 2014), or None when unknown."""
        found = re.findall(r"\b(?:19|20)\d{2}\b", self.reviewed or "")
        return int(found[-1]) if found else None

    @property
    def page_label(self) -> str:
        """'p. 3', 'pp. 3-4', or '' for a file without pages."""
        if not self.pages:
            return ""
        first, last = min(self.pages), max(self.pages)
        return f"p. {first}" if first == last else f"pp. {first}\u2013{last}"


@dataclass(frozen=True)
class AnswerUnit:
    """One verbatim unit of an answer and the citation it carries."""

    text: str
    citation: int
    score: float
    highlight: Span | None = None  # offsets into `text` of the best QA span, if any


@dataclass(frozen=True)
class Answer:
    """What the assistant replies: verbatim units, citations and notices."""

    question: str
    units: tuple[AnswerUnit, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    confidence: float
    disclaimer: str
    urgent: AnswerUnit | None = None
    message: str = ""  # plain-language note: why it abstained, or what was wrong
    resolved_question: str = ""  # the question after follow-up resolution
    suggestions: tuple[str, ...] = field(default=())
    # False when the message itself could not be asked (empty, not words, not
    # English, too long): `message` says why. Front ends need not check again.
    usable: bool = True
    # The sources' advice on when to get help, as a calm note below the answer:
    # the message touches an urgent topic (a definition, a past event) but
    # describes no sign happening now. `urgent` is the red box for that.
    help_note: AnswerUnit | None = None
    # Parts of a message asking several things that the sources do not answer
    # (the user's own words): said plainly, never left out silently.
    unanswered: tuple[str, ...] = ()
    # A refusal of how things will go or how to cope: the support lines the sources name.
    support: tuple[AnswerUnit, ...] = ()

    @property
    def unanswered_lines(self) -> tuple[str, ...]:
        return tuple(_unanswered_line(part, self.question) for part in self.unanswered)

    @property
    def text(self) -> str:
        """Display text: each unit followed by its citation marker."""
        if self.abstained:
            return self.message
        # When the urgent notice is the whole answer, it is not repeated as a unit.
        units = self.units if self.units or self.urgent is None else (self.urgent,)
        return " ".join(f"{' '.join(u.text.split())} [{u.citation}]" for u in units)

    def to_json(self) -> dict:
        """The batch/`--json` record (see README for the fields)."""
        urgent = help_note = None
        if self.urgent is not None:
            urgent = f"{' '.join(self.urgent.text.split())} [{self.urgent.citation}]"
        if self.help_note is not None:
            help_note = f"{' '.join(self.help_note.text.split())} [{self.help_note.citation}]"
        return {
            "question": self.question,
            "resolved_question": self.resolved_question,
            "answer": self.text,
            "units": [{"text": u.text, "citation": u.citation} for u in self.units],
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "urgent": urgent,
            "when_to_get_help": help_note,
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "title": c.title,
                    "publisher": c.publisher,
                    "section": c.section,
                    "quote": c.quote,
                    "file": c.file,
                    "start": c.span.start,
                    "end": c.span.end,
                    "also_in": list(c.also_in),
                    "url": c.url,
                    "page": c.page_label or None,
                    "reviewed": c.reviewed,
                    "pages": list(range(min(c.pages), max(c.pages) + 1)) if c.pages else [],
                }
                for c in self.citations
            ],
            "message": self.message,
            "unanswered_parts": list(self.unanswered),
            "support": [f"{' '.join(u.text.split())} [{u.citation}]" for u in self.support],
            "suggestions": list(self.suggestions),
            "disclaimer": self.disclaimer,
        }


def _unanswered_line(part: str, question: str) -> str:
    """A part the sources do not answer, said plainly: in the user's own words, or,
    for one thing of a comparison ("whats the difference between zometa and a flu
    jab" asks "what is a flu jab?", words they never wrote), by its name."""
    thing = part[len("what is "):-1] if part.startswith("what is ") and part.endswith("?") else ""
    if thing and part not in question:
        return f"The sources don't say what {thing} is."
    return f"The sources don't answer this part of your message: “{part}”"

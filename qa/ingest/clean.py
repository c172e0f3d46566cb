"""Split a document into blocks (headings, paragraphs, list items) and mark
what is not content: navigation, promos, link lists, donation and order
prompts, comment forms, captions.

Nothing is rewritten: each block is a span of the raw text, so offsets stay true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.data import Document, Span

HEADING = "heading"
PARAGRAPH = "paragraph"
ITEM = "item"
DROPPED = "dropped"

_BULLET = re.compile(r"^[ \t]*(?:[•▪◦·\-\*\u2022])[ \t]+")
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+")

# A matching block and the rest of its article are dropped: page footers.
_DROP_REST = [
    re.compile(p, re.I)
    for p in (
        r"^Today on \w+",
        r"^Show Sources$",
        r"^Resources For More Information$",
        r"^About the author$",
        r"^Leave a Reply$",
        r"^Would you like a print copy",
    )
]
# A matching block and the list that follows it are dropped: link lists.
_DROP_WITH_LIST = [re.compile(p, re.I) for p in (r"^Continue learning\b",)]
# A matching block is dropped: widgets, links, promos, review stamps.
_DROP_BLOCK = [
    re.compile(p, re.I)
    for p in (
        r"^(Font Size|\+ ?-? ?Text Size|Table of Contents|Get Started|Sign Up|Get Answers|Order Now|Back to top|Print|Share)$",
        r"^(Learn more|Find out more|Find information on|Read more)\b[^.]*\.?$",
        r"^You can (read|learn) more about .* in our\b",
        r"^Next topic:",
        r"^Watch our\b",
        r"^Was this article helpful\?",
        r"\bdonat(e|ion)s?\b",
        r"^Last (Medical Review|Revised|modified|updated)\b",
        r"^(Medically )?Reviewed by\b",
        r"^(©|Copyright\b)",
        r"\bemail address will not be published\b",
    )
]


@dataclass(frozen=True)
class Block:
    """A heading, paragraph or list item of an article; dropped ones say why."""

    kind: str
    span: Span
    text: str
    article_id: str
    reason: str = ""


def split_blocks(doc: Document) -> list[Block]:
    """The document's blocks in order, with non-content marked DROPPED."""
    blocks: list[Block] = []
    for article in doc.articles:
        raw = _raw_blocks(doc.text, article.span)
        blocks.extend(_classify(raw, article.id))
    return blocks


def _raw_blocks(text: str, span: Span) -> list[tuple[str, Span, str]]:
    """(kind, span, text) for each run of lines: bullets and headings stand alone."""
    found: list[tuple[str, Span, str]] = []
    para_start = para_end = None

    def flush() -> None:
        nonlocal para_start, para_end
        if para_start is not None:
            found.append((PARAGRAPH, Span(para_start, para_end), text[para_start:para_end]))
        para_start = para_end = None

    pos = span.start
    for line in text[span.start : span.end].splitlines(keepends=True):
        body = line.rstrip("\r\n")
        start, end = pos + len(body) - len(body.lstrip()), pos + len(body.rstrip())
        pos += len(line)
        if not body.strip():
            flush()
            continue
        bullet = _BULLET.match(body)
        heading = _MD_HEADING.match(body)
        if bullet or heading:
            flush()
            marker = bullet if bullet else heading
            start = pos - len(line) + marker.end()
            found.append((ITEM if bullet else HEADING, Span(start, end), text[start:end]))
        elif para_start is None:
            para_start, para_end = start, end
        else:
            para_end = end
    flush()
    return found


def is_heading_like(text: str) -> bool:
    """A short line with no closing punctuation (a bracket after a name is none), or a short question."""
    words = text.split()
    if not words or len(words) > 14 or len(text) > 110 or "\n" in text.strip():
        return False
    if text.rstrip().endswith("?"):
        return len(words) <= 12
    # "Radium-223 (Xofigo®)", "High calcium levels (hypercalcemia)": a name and its
    # other name is a heading when the name alone would be one.
    name = re.sub(r"\s*\([^()]*\)$", "", text.rstrip())
    return bool(name) and not re.search(r"[.!:;,)\"”]$", name) and not words[0][0].islower()


def is_caption(text: str) -> bool:
    """Image captions and alt texts: a few lower-case words, no punctuation."""
    words = text.split()
    return 0 < len(words) <= 8 and words[0][0].islower() and not re.search(r"[.!?:;]$", text.rstrip())


def _is_table(text: str) -> bool:
    """Several lines, none of them ending a sentence: a flattened table or link list."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and not any(re.search(r"[.!?:]$", line) for line in lines)


# HTML in a text or Markdown file is markup, never a heading or an answer.
_CODE_START = re.compile(r"^<(script|style|iframe|object|template|svg)\b", re.I)
_CODE_END = re.compile(r"</(script|style|iframe|object|template|svg)\s*>", re.I)
# An unclosed comment runs to the end, as in HTML: one scan, where "<!--.*?-->"
# rescanned the rest of the text from every "<!--" (minutes for 240 KB of them).
_TAG = re.compile(r"<!--.*?(?:-->|\Z)|</?[a-zA-Z][^<>]*>", re.S)


def is_markup(text: str) -> bool:
    """HTML tags with no words outside them: `<div class="x">`, `<br/>`, `<!-- note -->`."""
    return bool(_TAG.search(text)) and not re.search(r"[^\W\d_]", _TAG.sub("", text))


def _classify(raw: list[tuple[str, Span, str]], article_id: str) -> list[Block]:
    blocks: list[Block] = []
    in_footer = in_link_list = in_code = False
    for kind, span, text in raw:
        first_line = text.strip()
        if in_code or _CODE_START.match(first_line):
            in_code = not _CODE_END.search(text)  # a <script> or <style> runs to its closing tag
            blocks.append(Block(DROPPED, span, text, article_id, "HTML markup"))
            continue
        if kind == PARAGRAPH and is_heading_like(first_line):
            kind = HEADING
        if not in_footer and any(p.search(first_line) for p in _DROP_REST):
            in_footer = True
        if any(p.search(first_line) for p in _DROP_WITH_LIST):
            in_link_list, reason = True, "link list"
        elif in_link_list and kind == ITEM:
            reason = "link list"
        else:
            in_link_list = False
            reason = "page footer" if in_footer else _noise(kind, text, first_line)
        blocks.append(Block(DROPPED if reason else kind, span, text, article_id, reason))
    return blocks


def _noise(kind: str, text: str, first_line: str) -> str:
    """Why a single block is not content, or '' when it is."""
    if is_markup(text):
        return "HTML markup"
    if any(p.search(first_line) for p in _DROP_BLOCK):
        return "widget or promo"
    if kind == PARAGRAPH and is_caption(first_line):
        return "caption"
    if kind == PARAGRAPH and _is_table(text):
        return "table or link list"
    return ""

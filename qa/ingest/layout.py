"""The text of a PDF or Word file, written the way the cleaner reads text files:
one line per paragraph, `## ` before a heading, `  • ` before a list item, a
blank line between blocks; and where each page starts in it.

    >>> assemble([Para("heading", "Bone pain", 0), Para("text", "It aches.", 0)], 1, None).text
    '## Bone pain\\n\\nIt aches.\\n'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from qa.data import Extraction

_MARKS = {"heading": "## ", "item": "  \u2022 ", "text": ""}
# A publishing tool's name for the file, not a title.
_JUNK_TITLE = re.compile(r"(\.(docx?|pdf|indd|rtf)\b|^untitled|^microsoft word\b|^document\d*$)", re.I)


@dataclass(frozen=True)
class Para:
    """A heading, paragraph or list item; `breaks` says where in `text` a later page starts."""

    kind: str  # "heading", "text" or "item"
    text: str
    page: int  # 0-based page of its first line
    breaks: tuple[tuple[int, int], ...] = ()  # (page, offset in text)

    def extended(self, line: str, page: int | None = None) -> "Para":
        """This paragraph with the next line of it added (a line-end hyphen mended)."""
        joined = join_lines(self.text, line)
        last = self.breaks[-1][0] if self.breaks else self.page
        breaks = self.breaks
        if page is not None and page != last:
            breaks += ((page, len(joined) - len(line.lstrip())),)
        return Para(self.kind, joined, self.page, breaks)


def join_lines(text: str, line: str) -> str:
    """Two lines of one paragraph: a space between them, or none where a word
    was hyphenated at the line end ("treat-" + "ment"). A hyphen that belongs
    to the word ("long-" + "term") is kept: English word frequencies decide."""
    line = line.strip()
    match = re.search(r"([A-Za-z]+)-$", text)
    if match is None or not line[:1].isalpha():
        return f"{text} {line}" if text and not text.endswith("-") else text + line
    if not line[:1].islower():
        return text + line  # "Radium-" + "223"-like: the hyphen stays, no space
    head, tail = match.group(1), re.match(r"[a-z]+", line).group(0)
    return text[:-1] + line if _one_word(head.lower(), tail) else text + line


@lru_cache(maxsize=4096)
def _one_word(head: str, tail: str) -> bool:
    """'painkill' + 'ers' is one word; 'long' + 'term' keeps its hyphen. A compound
    of two common words is far more frequent written with the hyphen."""
    from wordfreq import zipf_frequency

    return zipf_frequency(head + tail, "en") > zipf_frequency(f"{head}-{tail}", "en") - 1.5


def assemble(paras: list[Para], page_count: int, title: str | None) -> Extraction:
    """The extraction's text and each page's start offset in it."""
    parts: list[str] = []
    starts: list[int | None] = [None] * max(page_count, 0)
    offset = 0
    for para in paras:
        if not para.text.strip():
            continue
        mark = _MARKS[para.kind]
        body = offset + len(mark)
        for page, at in ((para.page, 0), *para.breaks):
            if 0 <= page < len(starts) and starts[page] is None:
                starts[page] = body + at
        parts.append(mark + para.text + "\n\n")
        offset += len(parts[-1])
    text = "".join(parts).rstrip("\n") + "\n" if parts else ""
    if starts:
        starts[0] = 0  # the text before the first line (a heading's mark) is page 1's
    following = len(text)
    for page in range(len(starts) - 1, -1, -1):  # a page without text starts where the next does
        following = starts[page] = min(following, starts[page]) if starts[page] is not None else following
    if title is not None and _JUNK_TITLE.search(title):
        title = None
    return Extraction(text=text, pages=tuple(s if s is not None else 0 for s in starts), title=title)

"""A PDF leaflet as text: lines read with PyMuPDF, put in reading order (two
columns are read one after the other), page furniture removed (running
headers and footers, page numbers, "Continued overleaf"), paragraphs joined
across line, column and page breaks, words hyphenated at a line end mended.

The text it gives is the document's text (the stored extraction): every offset
and quote refers to it, and `pages` says where each page starts in it.

    >>> extraction = extract_pdf(Path("leaflet.pdf"))
    >>> extraction.text[extraction.pages[2]:]   # page 3 onwards

PyMuPDF was chosen by measurement (commit message): it keeps each line's box
and font, which reading order and headings need, and reads 500 pages in a second.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.data import Extraction
from qa.errors import CorpusError
from qa.ingest.layout import Para, assemble

# Page furniture: never content, wherever it stands.
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-\u2013\u2014 ]*\d{1,4}[-\u2013\u2014 ]*(?:(?:of|/)\s*\d{1,4})?$", re.I)
_CONTINUED = re.compile(
    r"^\(?(?:continued|cont(?:\.|inued)?\s+(?:overleaf|on\s+(?:the\s+)?(?:next|following|back)\s+(?:page|side))"
    r"|please\s+turn\s+over|p\.?t\.?o\.?|turn\s+over)\)?[\s.\u2026>\u2192-]*$",
    re.I,
)
_CONTINUED_OVERLEAF = re.compile(r"^\(?continued\s+(?:overleaf|on\s+(?:the\s+)?(?:next|following|back)\s+(?:page|side))", re.I)
_BULLETS = "\u2022\u25aa\u25cf\u25e6\u2023\u2043\u00b7\uf0b7\uf0a7\u25a0\u25a1\u2013-*"
_BULLET = re.compile(rf"^[{re.escape(_BULLETS)}]\s*")
MARGIN_SHARE = 0.12  # the top and bottom eighth of a page: where running headers and footers stand


@dataclass(frozen=True)
class _Line:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float
    bold: bool


def extract_pdf(path: Path, progress: bool = False) -> Extraction:
    """The PDF's text in reading order; CorpusError for a file that is not a
    readable PDF, needs a password, or has no text layer (a scan)."""
    import pymupdf  # only needed when a PDF is read

    try:
        document = pymupdf.open(path, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise CorpusError(f"{path} is not a readable PDF (damaged, or not a PDF): open and save it again, or remove it") from exc
    with document:
        if document.needs_pass:
            raise CorpusError(f"{path} is protected by a password: save a copy without the password and add that")
        lines = _read_lines(document, path, progress)
        title = (document.metadata or {}).get("title") or None
        count = document.page_count
    if not any(line.text for line in lines):
        raise CorpusError(f"{path}: this PDF has no text; run OCR first (it looks like a scan: `ocrmypdf in.pdf out.pdf`, for one), then add the result")
    kept = _without_furniture(lines, count)
    return assemble(_paragraphs(kept), count, title.strip() if title and title.strip() else None)


def _read_lines(document, path: Path, progress: bool) -> list[_Line]:
    from tqdm import tqdm

    lines: list[_Line] = []
    pages = tqdm(document, total=document.page_count, desc=f"reading {path.name}", unit="page",
                 disable=not progress or document.page_count < 20)
    try:
        for number, page in enumerate(pages):
            lines += _in_reading_order(_page_lines(page, number), page.rect.width, page.rect.height)
    except RuntimeError as exc:  # a page MuPDF cannot parse
        raise CorpusError(f"{path} is damaged (page {number + 1} cannot be read): open and save it again, or remove it") from exc
    return lines


def _page_lines(page, number: int) -> list[_Line]:
    found = []
    for block in page.get_text("dict", flags=0)["blocks"]:  # flags=0: text only, no images
        for line in block.get("lines", []):
            spans = [s for s in line["spans"] if s["text"].strip()]
            if not spans or line["dir"][1] != 0:  # empty, or vertical text (a margin label)
                continue
            text = " ".join("".join(s["text"] for s in line["spans"]).split())
            main = max(spans, key=lambda s: len(s["text"]))
            bold = bool(main["flags"] & 16) or "bold" in main["font"].lower()
            found.append(_Line(number, *line["bbox"], text, round(main["size"], 1), bold))
    return found


def _in_reading_order(lines: list[_Line], width: float, height: float) -> list[_Line]:
    """Top to bottom; on a two-column page the left column, then the right.
    Lines that cross the middle (a title, a footer) are read where they stand:
    above the columns, or after them."""
    middle = width / 2
    right = [line for line in lines if line.x0 >= middle - 2]
    if len(right) < 3 or len(right) < 0.2 * len(lines):  # one column
        return sorted(lines, key=lambda line: (round(line.y0), line.x0))
    left = [line for line in lines if line.x1 <= middle + 2 and line not in right]
    across = sorted((line for line in lines if line not in right and line not in left), key=lambda line: line.y0)
    by_y = lambda group: sorted(group, key=lambda line: (round(line.y0), line.x0))
    # A line across the page (a title, a wide picture's caption) splits the page into
    # bands; within a band the left column is read before the right.
    ordered, since = [], float("-inf")
    for cut in [*across, None]:
        until = cut.y0 if cut is not None else float("inf")
        ordered += by_y([line for line in left if since <= line.y0 < until])
        ordered += by_y([line for line in right if since <= line.y0 < until])
        ordered += [cut] if cut is not None else []
        since = until
    return ordered


def _furniture_key(text: str) -> str:
    """A running header or footer with its page number taken out."""
    return re.sub(r"\d+", "#", text.lower()).strip()


def _without_furniture(lines: list[_Line], pages: int) -> list[_Line]:
    """Lines that are content: page numbers, "continued" notes, and lines in
    the top or bottom margin repeated on other pages are dropped."""
    heights = {}
    for line in lines:
        heights[line.page] = max(heights.get(line.page, 0.0), line.y1)
    margin = lambda line: line.y1 <= heights[line.page] * MARGIN_SHARE * 2 or line.y0 >= heights[line.page] * (1 - MARGIN_SHARE)
    repeated = Counter(_furniture_key(line.text) for line in lines if margin(line))
    seen_on = {key: {line.page for line in lines if margin(line) and _furniture_key(line.text) == key} for key in repeated}
    kept = []
    for line in lines:
        if _PAGE_NUMBER.match(line.text) or _CONTINUED.match(line.text) or _CONTINUED_OVERLEAF.match(line.text):
            continue
        if pages > 1 and margin(line) and len(seen_on[_furniture_key(line.text)]) >= 2:
            continue  # a running header or footer
        kept.append(line)
    return kept


def _paragraphs(lines: list[_Line]) -> list[Para]:
    """Lines grouped into headings, paragraphs and list items."""
    body = Counter(line.size for line in lines if len(line.text) > 30).most_common(1)
    body_size = body[0][0] if body else 0.0
    paras: list[Para] = []
    previous: _Line | None = None
    for line in lines:
        heading = len(line.text) <= 110 and (line.size >= body_size * 1.15 or (line.bold and line.size >= body_size))
        bullet = _BULLET.match(line.text) if len(line.text) > 2 else None
        kind = "heading" if heading and not bullet else "item" if bullet else "text"
        text = line.text[bullet.end():] if bullet else line.text
        if previous is not None and paras and _continues(paras[-1], previous, line, kind):
            paras[-1] = paras[-1].extended(text, line.page)
        else:
            paras.append(Para(kind, text, line.page))
        previous = line
    return paras


def _continues(para: Para, previous: _Line, line: _Line, kind: str) -> bool:
    """Whether a line carries on the paragraph (or item, or heading) before it."""
    if kind == "item" or (kind == "heading") != (para.kind == "heading"):
        return False
    if line.page != previous.page or line.y0 < previous.y0:  # a new column or page
        # carried over only mid-sentence
        ended = re.search(r"[.!?:]['\"\u201d\u2019)]?$", para.text)
        return kind != "heading" and not ended and (line.text[:1].islower() or para.text.endswith("-"))
    if para.kind == "item" and line.x0 <= previous.x0 - 4:
        return False  # back at the margin: the list has ended
    # The next line of a paragraph stands about one line's height below; a new
    # paragraph leaves more space (line boxes may overlap, so tops are compared).
    return line.y0 - previous.y0 < max(previous.size, line.size) * 1.55

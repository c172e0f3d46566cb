"""Turn cleaned blocks into answer units and retrievable chunks.

A unit is a sentence, or a lead-in sentence plus the short list it introduces.
A chunk packs consecutive units of one section; it never crosses a section, an
article or a dropped block, so `doc.text[chunk.span.start:chunk.span.end]` is
exactly the chunk's text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Callable

from qa.data import Chunk, Document, Span, Unit
from qa.ingest.clean import DROPPED, HEADING, ITEM, PARAGRAPH, Block, split_blocks

SHORT_ITEM_WORDS = 20  # items this short are read as one list, not as sentences
LABEL_WORDS = 4  # a sentence this short ("Bone pain.") is a label for the next one


SEGMENT_CHARS = 2_000  # pysbd's time grows with the square of a text's length: longer paragraphs are cut first
MAX_UNIT_CHARS = 600  # a longer "sentence" (text without punctuation) is cut at line breaks, then between words
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+")


@cache
def _segmenter():
    import pysbd  # only needed at build time

    return pysbd.Segmenter(language="en", clean=False)


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentence spans of `text`, shifted by `offset`; whitespace trimmed; none
    longer than MAX_UNIT_CHARS."""
    spans = []
    for start, end in _pieces(text, SEGMENT_CHARS):
        for span in _segment(text[start:end], offset + start):
            spans += _split_long(text, offset, span)
    return _merge_labels(text, offset, spans)


def _segment(text: str, offset: int) -> list[Span]:
    """pysbd's sentences of a piece of text. Its processor is called directly:
    `Segmenter.segment` also maps each sentence back with a regex over the whole
    text (quadratic), which `text.find` does here."""
    spans, cursor = [], 0
    for sent in _segmenter().processor(text).process():
        sent = sent.strip()
        if not sent:
            continue
        start = text.find(sent, cursor)
        if start < 0:  # pysbd changed the text; fall back to the rest as one sentence
            rest = text[cursor:].strip()
            if rest:
                start = text.index(rest, cursor)
                spans.append(Span(offset + start, offset + start + len(rest)))
            break
        spans.append(Span(offset + start, offset + start + len(sent)))
        cursor = start + len(sent)
    return spans


def _pieces(text: str, limit: int) -> list[tuple[int, int]]:
    """(start, end) pieces of at most `limit` characters, cut at a line break, else
    after a sentence's end, else between words, else anywhere."""
    pieces, start = [], 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = window.rfind("\n") + 1
        if cut < limit // 4:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends else 0
        if cut < limit // 4:
            cut = max(window.rfind(" "), window.rfind("\t")) + 1
        if cut < limit // 4:
            cut = limit
        pieces.append((start, start + cut))
        start += cut
    pieces.append((start, len(text)))
    return pieces


def _split_long(text: str, offset: int, span: Span) -> list[Span]:
    """A span over MAX_UNIT_CHARS as several, each trimmed of whitespace."""
    if span.end - span.start <= MAX_UNIT_CHARS:
        return [span]
    parts = []
    body = text[span.start - offset : span.end - offset]
    for line_start, line_end in _lines(body):
        line = body[line_start:line_end]
        for start, end in _pieces(line, MAX_UNIT_CHARS):
            piece = line[start:end]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                first = span.start + line_start + start + lead
                parts.append(Span(first, first + len(piece.strip())))
    return parts


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line of `text`, without its line break."""
    found, start = [], 0
    for line in text.splitlines(keepends=True):
        found.append((start, start + len(line.rstrip("\r\n"))))
        start += len(line)
    return found


def _merge_labels(text: str, offset: int, spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    pending: Span | None = None
    for span in spans:
        if pending is not None:
            span, pending = Span(pending.start, span.end), None
        words = text[span.start - offset : span.end - offset].split()
        if len(words) <= LABEL_WORDS and not words[-1].endswith("?") and span is not spans[-1]:
            pending = span
            continue
        merged.append(span)
    if pending is not None:
        merged.append(pending)
    return merged


def normalise(text: str) -> str:
    """Lower-case letters and digits only: how duplicates are recognised."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def deduplicate(blocks_by_doc: dict[str, list[Block]]) -> tuple[dict[str, list[Block]], dict[tuple[str, int], set[str]]]:
    """Drop paragraphs and items that another document already holds.

    The copy kept is the one in the document with the most content, so a saved
    web page that repeats an article gives way to the article. Returns the new
    blocks and, for each kept block (doc id, start), the documents repeating it.
    """
    size = {doc_id: sum(len(b.text) for b in blocks if b.kind != DROPPED) for doc_id, blocks in blocks_by_doc.items()}
    order = sorted(blocks_by_doc, key=lambda doc_id: -size[doc_id])
    owner: dict[str, tuple[str, int]] = {}
    also_in: dict[tuple[str, int], set[str]] = defaultdict(set)
    result: dict[str, list[Block]] = {}
    for doc_id in order:
        kept = []
        for block in blocks_by_doc[doc_id]:
            key = normalise(block.text)
            if block.kind in (PARAGRAPH, ITEM) and len(key) >= 20:
                if key in owner:
                    first = owner[key]
                    if first[0] != doc_id:
                        also_in[first].add(doc_id)
                    block = Block(DROPPED, block.span, block.text, block.article_id, f"duplicate of {first[0]}")
                else:
                    owner[key] = (doc_id, block.span.start)
            kept.append(block)
        result[doc_id] = kept
    return {doc_id: result[doc_id] for doc_id in blocks_by_doc}, also_in


def units_of(doc: Document, run: list[Block]) -> list[Unit]:
    """Answer units of a run of content blocks (one section, nothing dropped)."""
    units: list[Unit] = []
    i = 0
    while i < len(run):
        block = run[i]
        if block.kind == PARAGRAPH:
            spans = sentences(block.text, block.span.start)
            items = _items_after(run, i + 1)
            lead = doc.text[spans[-1].start : spans[-1].end]
            if items and lead.endswith(":") and _short(items):
                # "These include:" says nothing alone: it keeps the sentence before it.
                keep = -2 if len(lead.split()) <= LABEL_WORDS and len(spans) > 1 else -1
                units += [_unit(doc, s) for s in spans[:keep]]
                units.append(_unit(doc, Span(spans[keep].start, items[-1].span.end)))
                i += 1 + len(items)
                continue
            units += [_unit(doc, s, lead_in=bool(items) and s is spans[-1] and lead.endswith(":")) for s in spans]
        elif block.kind == ITEM:
            items = _items_after(run, i)
            if _short(items):
                units.append(_unit(doc, Span(items[0].span.start, items[-1].span.end)))
                i += len(items)
                continue
            units += [_unit(doc, s) for s in sentences(block.text, block.span.start)]
        i += 1
    return units


def _items_after(run: list[Block], i: int) -> list[Block]:
    items = []
    while i < len(run) and run[i].kind == ITEM:
        items.append(run[i])
        i += 1
    return items


def _short(items: list[Block]) -> bool:
    return all(len(item.text.split()) <= SHORT_ITEM_WORDS for item in items)


def _unit(doc: Document, span: Span, lead_in: bool = False) -> Unit:
    text = doc.text[span.start : span.end]
    # Questions and dangling lead-ins give context but are no answer on their own.
    context_only = lead_in or (text.rstrip().endswith("?") and "\n" not in text)
    return Unit(span=span, text=text, is_question=context_only, page=doc.page_at(span.start))


def chunk_document(
    doc: Document, blocks: list[Block], chunk_chars: int, overlap: int, also_in: dict[tuple[str, int], set[str]], first_id: int,
    done: Callable[[int], object] | None = None,
) -> list[Chunk]:
    """Chunks of one document; ids count up from `first_id`; `done(n)` is told
    of each n characters chunked (a progress bar)."""
    chunks: list[Chunk] = []
    for article_id, section, run in _runs(blocks):
        if done is not None:
            done(sum(len(b.text) for b in run))
        article = next(a for a in doc.articles if a.id == article_id)
        section = section if section else article.title  # text before the first heading
        repeats = sorted({d for b in run for d in also_in.get((doc.id, b.span.start), ())})
        for group in _pack(units_of(doc, run), chunk_chars, overlap):
            span = Span(group[0].span.start, group[-1].span.end)
            chunks.append(
                Chunk(
                    id=first_id + len(chunks),
                    doc_id=doc.id,
                    article_id=article.id,
                    file=Path(doc.path).name,
                    title=article.title,
                    publisher=article.publisher,
                    section=section,
                    span=span,
                    text=doc.text[span.start : span.end],
                    units=tuple(group),
                    also_in=tuple(repeats),
                    url=article.url,
                    pages=_pages(doc, span),
                    reviewed=article.reviewed,
                )
            )
    return chunks


def _pages(doc: Document, span: Span) -> tuple[int, ...]:
    """The first and last page of a span of a PDF: (3,) or (3, 4); () without pages."""
    if not doc.pages:
        return ()
    first, last = doc.page_at(span.start), doc.page_at(max(span.start, span.end - 1))
    return (first,) if first == last else (first, last)


def _runs(blocks: list[Block]):
    """(article id, section heading, blocks) for each unbroken run of content."""
    section, article_id, run = "", None, []
    for block in blocks:
        if block.article_id != article_id:
            if run:
                yield article_id, section, run
            section, article_id, run = "", block.article_id, []
        if block.kind in (HEADING, DROPPED):
            if run:
                yield article_id, section, run
            run = []
            if block.kind == HEADING:
                section = " ".join(block.text.split())
            continue
        run.append(block)
    if run:
        yield article_id, section, run


def _pack(units: list[Unit], chunk_chars: int, overlap: int) -> list[list[Unit]]:
    """Greedy packing by characters; a lead-in never ends a chunk."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    for unit in units:
        size = unit.span.end - current[0].span.start if current else 0
        dangling = current and current[-1].is_question and current[-1].text.rstrip().endswith(":")
        if current and size > chunk_chars and not dangling:
            groups.append(current)
            current = current[-overlap:] if 0 < overlap < len(current) else []
        current.append(unit)
    if current and (not groups or current != groups[-1][-len(current):]):
        groups.append(current)
    return groups


def chunk_corpus(docs: list[Document], chunk_chars: int, overlap: int, progress: bool = False) -> list[Chunk]:
    """Clean, deduplicate and chunk every document (about 0.4 MB/s on one core: a progress bar helps)."""
    from tqdm import tqdm

    if chunk_chars < 50:
        raise ValueError(f"chunk_chars must be at least 50, got {chunk_chars}")
    if overlap < 0:
        raise ValueError(f"overlap must be 0 or more units, got {overlap}")
    blocks, also_in = deduplicate({doc.id: split_blocks(doc) for doc in docs})
    content = sum(len(b.text) for doc_blocks in blocks.values() for b in doc_blocks if b.kind in (PARAGRAPH, ITEM))
    chunks: list[Chunk] = []
    with tqdm(total=content, desc="chunking", unit="char", unit_scale=True, disable=not progress) as bar:
        for doc in docs:
            chunks += chunk_document(doc, blocks[doc.id], chunk_chars, overlap, also_in, len(chunks), bar.update)
    return chunks

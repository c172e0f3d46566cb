"""Citations: each answer unit numbered by the passage it is quoted from.

    >>> citations = []
    >>> n = cite(citations, chunk, unit.span)   # 1, and citations holds it
"""

from __future__ import annotations

from qa.data import Chunk, Citation, Span


def cite(citations: list[Citation], chunk: Chunk, unit: Span | None = None) -> int:
    """The citation number for a unit of a chunk: an earlier citation of the
    same file that holds the unit is reused (overlapping chunks), else the
    chunk is cited anew."""
    for citation in citations:
        if citation.file != chunk.file:
            continue
        if citation.span == chunk.span:
            return citation.n
        if unit is not None and citation.span.start <= unit.start and unit.end <= citation.span.end:
            return citation.n
    citation = Citation(
        n=len(citations) + 1,
        doc_id=chunk.article_id,
        title=chunk.title,
        publisher=chunk.publisher,
        section=chunk.section,
        quote=chunk.text,
        span=Span(chunk.span.start, chunk.span.end),
        file=chunk.file,
        also_in=chunk.also_in,
        url=chunk.url,
        pages=chunk.pages,
        reviewed=chunk.reviewed,
    )
    citations.append(citation)
    return citation.n


def age_note(citations, max_years: int, this_year: int) -> str:
    """A plain note on the sources reviewed more than `max_years` ago, or '':
    their text may be out of date, and the reader should know."""
    old = [c for c in citations if c.reviewed_year is not None and this_year - c.reviewed_year > max_years]
    if not old:
        return ""
    which = ", ".join(f"[{c.n}] in {c.reviewed_year}" for c in old)
    one = len(old) == 1
    return (
        f"{'This source was' if one else 'These sources were'} last reviewed more than {max_years} years ago "
        f"({which}): some details may have changed since, so check with your care team."
    )

"""A Word (.docx) leaflet as text, read with python-docx: headings (the Title
and Heading styles) stay headings, bulleted and numbered paragraphs stay list
items, a table becomes one block of rows (the cleaner keeps tables out of
answers). Running headers and footers live outside the body, so they are never read.

    >>> extract_docx(Path("leaflet.docx")).text
    '## Bone pain and how to ease it\\n\\nThis leaflet is for ...'
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from qa.data import Extraction
from qa.errors import CorpusError
from qa.ingest.layout import Para, assemble

_OLE = b"\xd0\xcf\x11\xe0"  # an old .doc file, or a .docx saved with a password


def extract_docx(path: Path) -> Extraction:
    """The document's text; CorpusError for a file that is not a readable .docx."""
    import docx  # python-docx: only needed when a Word file is read
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError  # python-docx's XML parser

    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}; fix its permissions or remove it") from exc
    if magic == _OLE:
        raise CorpusError(f"{path} is password-protected or an old Word (.doc) file: save it as .docx without a password, then add it")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError) as exc:
        raise CorpusError(f"{path} is not a readable Word file (damaged, or not .docx): open and save it again as .docx") from exc
    paras = [para for block in document.iter_inner_content() for para in _block(block)]
    if not paras:
        raise CorpusError(f"{path} is empty: add text to it or remove it")
    title = document.core_properties.title or None
    return assemble(paras, 0, title.strip() if title and title.strip() else None)


def _block(block) -> list[Para]:
    from docx.table import Table

    if isinstance(block, Table):
        rows = [" | ".join(" ".join(cell.text.split()) for cell in row.cells) for row in block.rows]
        rows = [row for row in rows if row.replace("|", "").strip()]
        return [Para("text", "\n".join(rows), 0)] if rows else []
    text = " ".join(block.text.split())
    if not text:
        return []
    style = (block.style.name if block.style is not None else "") or ""
    if style == "Title" or style.startswith("Heading"):
        return [Para("heading", text, 0)]
    numbered = block._p.pPr is not None and block._p.pPr.numPr is not None
    if style.startswith("List") or numbered:
        return [Para("item", text, 0)]
    return [Para("text", text, 0)]

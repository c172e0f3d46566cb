"""Read the corpus folder: source files plus the metadata in `metadata.toml`.

    >>> docs = load_corpus(Path("corpus"))
    >>> docs[0].id, docs[0].articles[0].publisher
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
from pathlib import Path

from qa.data import Article, Document, Span
from qa.errors import CorpusError
from qa.ingest.webpage import canonical_url, host, html_to_text, web_address_problem
from qa.settings import MAX_FILE_MB

SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
EXTRACTED = (".pdf", ".docx")  # read through an extraction (qa/ingest/pdf.py, docx.py), not decoded
METADATA_FILE = "metadata.toml"

log = logging.getLogger("qa.corpus")  # the command line shows warnings on stderr, the app in its log


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The indexable files of the corpus, in a stable order."""
    if not corpus_dir.exists():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist: create it and put .txt, .md, .html, .pdf or .docx files in it"
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir} is a file, not a folder: point --corpus or QA_CORPUS at the folder of documents")
    try:
        candidates = sorted(p for p in corpus_dir.iterdir() if p.suffix.lower() in SUFFIXES)
    except OSError as exc:
        raise CorpusError(f"cannot list the corpus folder {corpus_dir} ({exc.strerror}): fix its permissions") from exc
    files = [p for p in candidates if _inside(p, corpus_dir) and p.is_file()]
    if not files:
        raise CorpusError(f"corpus folder {corpus_dir} has no .txt, .md, .html, .pdf or .docx files: add some documents")
    return files


def _inside(path: Path, corpus_dir: Path) -> bool:
    """True for a file of the corpus; a link that leaves the corpus folder is refused."""
    if not path.is_symlink():
        return True
    target = path.resolve()
    if not target.is_relative_to(corpus_dir.resolve()):
        raise CorpusError(
            f"{path} is a link to {target}, outside the corpus folder: copy the file into {corpus_dir} instead"
        )
    return True


def corpus_hash(corpus_dir: Path) -> str:
    """A hash of every file that shapes the index: sources and metadata."""
    digest = hashlib.sha256()
    paths = corpus_files(corpus_dir)
    meta = corpus_dir / METADATA_FILE
    if _inside(meta, corpus_dir) and meta.is_file():
        paths.append(meta)
    for path in paths:
        digest.update(path.name.encode())
        digest.update(_read_bytes(path))
    return digest.hexdigest()


def load_corpus(corpus_dir: Path, max_file_mb: float = MAX_FILE_MB, progress: bool = False) -> list[Document]:
    """Every document of the corpus, split into its articles; a file over
    `max_file_mb` is refused (20 MB takes about 17 minutes to index). `progress`: a
    bar while a long PDF is read."""
    metadata = _load_metadata(corpus_dir)
    files = corpus_files(corpus_dir)
    for message in missing_files(metadata, files, corpus_dir):
        log.warning(message)
    docs = [_load_document(path, metadata.get(path.name), max_file_mb, progress) for path in files]
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            raise CorpusError(
                f"{seen[doc.id]} and {doc.path} both have the id {doc.id!r}: give one of them another id in {METADATA_FILE}"
            )
        seen[doc.id] = doc.path
    return docs


def missing_files(metadata: dict, files: list[Path], corpus_dir: Path) -> list[str]:
    """One message for each metadata.toml entry whose file is not in the corpus.
    Its title, publisher, date and address would be lost without a word (a file
    renamed on disk is indexed as "your own document"), so the message names the
    entry's file, the likely new name, and the fix."""
    names = {path.name for path in files}
    unlisted = [path.name for path in files if path.name not in metadata]
    messages = []
    for name in (name for name in metadata if name not in names):
        meta_path = corpus_dir / METADATA_FILE
        alike = [other for other in unlisted if Path(other).suffix.lower() == Path(name).suffix.lower()]
        if len(alike) == 1:
            fix = (f"{alike[0]} has no entry: if it is {name} renamed, change file = \"{name}\" to "
                   f"file = \"{alike[0]}\" in {meta_path}; otherwise remove the entry")
        elif alike:
            fix = (f"files without an entry: {', '.join(alike)}; if one of them is {name} renamed, write its name "
                   f"in that entry's file = \"{name}\" in {meta_path}; otherwise remove the entry")
        else:
            fix = f"put {name} back in {corpus_dir}, or remove its entry from {meta_path}"
        messages.append(f"metadata for {name} is not used: {meta_path} names {name}, which is not in {corpus_dir}; {fix}")
    return messages


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}; fix its permissions or remove it") from exc


def _decode(path: Path, max_file_mb: float = MAX_FILE_MB) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}; fix its permissions or remove it") from exc
    if size > max_file_mb * 1_000_000:
        raise CorpusError(
            f"{path} is {size / 1_000_000:.1f} MB, over the {max_file_mb:g} MB limit for one document: "
            "split it into smaller files, or raise the limit (QA_MAX_FILE_MB)"
        )
    data = _read_bytes(path)
    if b"\x00" in data:
        raise CorpusError(f"{path} looks like a binary file, not text: remove it from the corpus")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8 or remove it from the corpus"
        ) from exc


def _load_metadata(corpus_dir: Path) -> dict:
    """Each file's DocumentMeta (qa/ingest/metadata.py), by file name."""
    path = corpus_dir / METADATA_FILE
    if not (_inside(path, corpus_dir) and path.is_file()):
        return {}
    try:
        data = tomllib.loads(_decode(path))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path} is not valid TOML ({exc}): fix the line it names") from exc
    from qa.ingest.metadata import (
        parse_metadata,  # pydantic: loaded only when a corpus is read
    )

    return parse_metadata(data, path)


def read_extraction(path: Path, max_file_mb: float = MAX_FILE_MB, progress: bool = False):
    """A PDF's or Word file's text (an Extraction), held to the same size limit as a text file."""
    if path.suffix.lower() == ".pdf":
        from qa.ingest.pdf import extract_pdf

        extraction = extract_pdf(path, progress)
    else:
        from qa.ingest.docx import extract_docx

        extraction = extract_docx(path)
    if len(extraction.text.encode("utf-8")) > max_file_mb * 1_000_000:
        raise CorpusError(
            f"{path} holds {len(extraction.text.encode()) / 1_000_000:.1f} MB of text, over the {max_file_mb:g} MB limit "
            "for one document: split it into smaller files, or raise the limit (QA_MAX_FILE_MB)"
        )
    return extraction


def extractions_json(docs: list[Document]) -> bytes:
    """The index's extracted.json: each PDF's and Word file's text as read (the
    offsets of its units and quotes are into it), its pages' start offsets, and
    the sha256 of the file it was read from."""
    found = {}
    for doc in docs:
        path = Path(doc.path)
        if path.suffix.lower() in EXTRACTED:
            sha = hashlib.sha256(_read_bytes(path)).hexdigest()
            found[path.name] = {"sha256": sha, "pages": list(doc.pages), "text": doc.text}
    return json.dumps(found, ensure_ascii=False, sort_keys=True).encode("utf-8")


def read_document(path: Path, max_file_mb: float = MAX_FILE_MB, progress: bool = False) -> Document:
    """One file read as the corpus would read it, without metadata: a file that
    cannot be indexed is refused here (qa add checks a file before copying it)."""
    return _load_document(path, None, max_file_mb, progress)


def _load_document(path: Path, meta, max_file_mb: float = MAX_FILE_MB, progress: bool = False) -> Document:
    page_url, pages = None, ()
    if path.suffix.lower() in EXTRACTED:
        extraction = read_extraction(path, max_file_mb, progress)
        text, page_title, pages = extraction.text, extraction.title, extraction.pages
    elif path.suffix.lower() in (".html", ".htm"):
        raw = _decode(path, max_file_mb)
        try:
            text, page_title = html_to_text(raw)
            page_url = canonical_url(raw)
        except CorpusError as exc:
            raise CorpusError(f"{path} {exc}") from exc
    else:
        text, page_title = _decode(path, max_file_mb), None
    if not text.strip():
        raise CorpusError(f"{path} is empty: add text to it or remove it")
    doc_id = meta.id if meta is not None else slug(path.stem)
    title = meta.title if meta is not None and meta.title is not None else None
    if title is None:
        title = page_title if page_title is not None else first_heading(text, path.stem)
    publisher = meta.publisher if meta is not None and meta.publisher is not None else "your own document"
    content_start = 0
    if meta is not None and meta.content_starts_with is not None:
        content_start = _line_starting_with(text, meta.content_starts_with, 0, path)
    url = _url(meta.url if meta is not None else None, path)
    # A page's own address (its canonical link) is only a claim: it may name any
    # site, a phishing one too. It is used only to make the metadata's address
    # more precise on the same host; alone, or on another host, it is never shown.
    if url is not None and _is_web_address(page_url) and host(page_url) == host(url):
        url = page_url
    articles = _articles(text, meta, doc_id, title, publisher, content_start, path, url)
    return Document(
        id=doc_id,
        path=str(path),
        title=title,
        publisher=publisher,
        text=text,
        articles=articles,
        content_start=articles[0].span.start,
        pages=pages,
    )


def _articles(
    text: str, meta, doc_id: str, title: str, publisher: str, content_start: int, path: Path, url: str | None
) -> tuple[Article, ...]:
    entries = meta.article if meta is not None else []
    if not entries:
        reviewed = meta.reviewed if meta is not None else None
        return (Article(doc_id, title, publisher, reviewed, Span(content_start, len(text)), url),)
    starts, cursor = [], content_start
    for entry in entries:
        cursor = _line_starting_with(text, entry.starts_with, cursor, path)
        starts.append(cursor)
        cursor += 1
    ends = starts[1:] + [len(text)]
    return tuple(
        Article(
            id=entry.id,
            title=entry.title if entry.title is not None else entry.starts_with,
            publisher=entry.publisher if entry.publisher is not None else publisher,
            reviewed=entry.reviewed,
            span=Span(start, end),
            url=_url(entry.url, path),  # never the compilation's own page
        )
        for entry, start, end in zip(entries, starts, ends)
    )


def _line_starting_with(text: str, marker: str, start: int, path: Path) -> int:
    match = re.compile(r"^[ \t]*" + re.escape(marker), re.M).search(text, start)
    if match is None:
        raise CorpusError(
            f"{path}: no line starts with {marker!r} (from {METADATA_FILE}): fix the marker in the metadata"
        )
    return match.start()


def _is_web_address(value) -> bool:
    return not web_address_problem(value)


def _url(value, path: Path) -> str | None:
    """An original page's address from the metadata: a plain http(s) address, or absent."""
    if value is None:
        return None
    problem = web_address_problem(value)
    if problem:
        raise CorpusError(
            f"{path}: url {value!r} in {METADATA_FILE} {problem}: "
            "give the original page's https:// address, or leave the url out"
        )
    return value


def first_heading(text: str, fallback: str) -> str:
    """The first non-empty line, without Markdown's leading #s."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return fallback


def slug(name: str) -> str:
    """A file name as an id: "My Leaflet (2024)" -> "my-leaflet-2024"."""
    found = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return found if found else "document"

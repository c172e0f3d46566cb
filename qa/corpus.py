"""Read the corpus folder: source files plus the metadata in `metadata.toml`.

    >>> docs = load_corpus(Path("corpus"))
    >>> docs[0].id, docs[0].articles[0].publisher
"""

from __future__ import annotations

import hashlib
import html.parser
import re
import tomllib
from pathlib import Path

from qa.data import Article, Document, Span
from qa.errors import CorpusError

SUFFIXES = (".txt", ".md", ".html", ".htm")
METADATA_FILE = "metadata.toml"


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The indexable files of the corpus, in a stable order."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist: create it and put .txt, .md or .html files in it"
        )
    files = sorted(p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise CorpusError(f"corpus folder {corpus_dir} has no .txt, .md or .html files: add some documents")
    return files


def corpus_hash(corpus_dir: Path) -> str:
    """A hash of every file that shapes the index: sources and metadata."""
    digest = hashlib.sha256()
    paths = corpus_files(corpus_dir)
    meta = corpus_dir / METADATA_FILE
    if meta.is_file():
        paths.append(meta)
    for path in paths:
        digest.update(path.name.encode())
        digest.update(_read_bytes(path))
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every document of the corpus, split into its articles."""
    metadata = _load_metadata(corpus_dir)
    return [_load_document(path, metadata.get(path.name, {})) for path in corpus_files(corpus_dir)]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}; fix its permissions or remove it") from exc


def _decode(path: Path) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        raise CorpusError(f"{path} looks like a binary file, not text: remove it from the corpus")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8 or remove it from the corpus"
        ) from exc


def _load_metadata(corpus_dir: Path) -> dict[str, dict]:
    path = corpus_dir / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(_decode(path))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path} is not valid TOML ({exc}): fix the line it names") from exc
    entries = {}
    for entry in data.get("document", []):
        if "file" not in entry or "id" not in entry:
            raise CorpusError(f"{path}: every [[document]] needs a file and an id")
        entries[entry["file"]] = entry
    return entries


def _load_document(path: Path, meta: dict) -> Document:
    raw = _decode(path)
    page_url = None
    if path.suffix.lower() in (".html", ".htm"):
        text, page_title = html_to_text(raw)
        page_url = canonical_url(raw)
    else:
        text, page_title = raw, None
    if not text.strip():
        raise CorpusError(f"{path} is empty: add text to it or remove it")
    doc_id = meta.get("id", _slug(path.stem))
    title = meta.get("title", page_title if page_title is not None else first_heading(text, path.stem))
    publisher = meta.get("publisher", "your own document")
    content_start = 0
    marker = meta.get("content_starts_with")
    if marker is not None:
        content_start = _line_starting_with(text, marker, 0, path)
    # The metadata's address wins; a page's own one that is no full web address is ignored.
    url = _url(meta["url"], path) if "url" in meta else (page_url if _is_web_address(page_url) else None)
    articles = _articles(text, meta, doc_id, title, publisher, content_start, path, url)
    return Document(
        id=doc_id,
        path=str(path),
        title=title,
        publisher=publisher,
        text=text,
        articles=articles,
        content_start=articles[0].span.start,
    )


def _articles(
    text: str, meta: dict, doc_id: str, title: str, publisher: str, content_start: int, path: Path, url: str | None
) -> tuple[Article, ...]:
    entries = meta.get("article", [])
    if not entries:
        return (Article(doc_id, title, publisher, meta.get("reviewed"), Span(content_start, len(text)), url),)
    starts, cursor = [], content_start
    for entry in entries:
        cursor = _line_starting_with(text, entry["starts_with"], cursor, path)
        starts.append(cursor)
        cursor += 1
    ends = starts[1:] + [len(text)]
    return tuple(
        Article(
            id=entry["id"],
            title=entry.get("title", entry["starts_with"]),
            publisher=entry.get("publisher", publisher),
            reviewed=entry.get("reviewed"),
            span=Span(start, end),
            url=_url(entry.get("url"), path),  # never the compilation's own page
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
    return isinstance(value, str) and re.fullmatch(r"https?://[^\s/]+\.[^\s]+", value) is not None


def _url(value, path: Path) -> str | None:
    """An original page's address from the metadata: a full http(s) address, or absent."""
    if value is None:
        return None
    if not _is_web_address(value):
        raise CorpusError(
            f"{path}: url {value!r} in {METADATA_FILE} is not a full web address: "
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


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug if slug else "document"


_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "section", "article", "table"}
_SKIP_TAGS = {"script", "style", "nav", "header", "footer", "noscript", "form", "aside"}


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if tag == "li":
                self.parts.append("  • ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = " ".join(data.split()) if self.title is None else self.title
        elif not self.skip:
            self.parts.append(" ".join(data.split()) if data.strip() else "")


def html_to_text(raw: str) -> tuple[str, str | None]:
    """The text an HTML page shows, one paragraph per block, and its <title>."""
    parser = _TextExtractor()
    parser.feed(raw)
    parser.close()
    text = re.sub(r"\n\s*\n(\s*\n)*", "\n\n", "".join(parser.parts))
    text = re.sub(r"[ \t]+\n", "\n", text).strip() + "\n"
    return text, parser.title


class _UrlFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.canonical: str | None = None
        self.og_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = {name: value for name, value in attrs if value}
        if tag == "link" and "canonical" in found.get("rel", "").lower().split() and self.canonical is None:
            self.canonical = found.get("href")
        elif tag == "meta" and found.get("property") == "og:url" and self.og_url is None:
            self.og_url = found.get("content")


def canonical_url(raw: str) -> str | None:
    """The address a saved HTML page gives for itself (<link rel="canonical"> or og:url), if any."""
    finder = _UrlFinder()
    finder.feed(raw)
    finder.close()
    return finder.canonical if finder.canonical is not None else finder.og_url

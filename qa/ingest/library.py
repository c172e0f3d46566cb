"""Adding and removing a clinic's own documents: `qa add`, `qa remove`, `qa list`.

A file is read in full before anything changes (a scan, a locked or damaged
file is refused with the fix, and the corpus stays as it was); then it is
copied into the corpus folder and its [[document]] entry appended to
metadata.toml. Both writes are atomic (a temporary file renamed), and the new
metadata is checked with the same rules as a hand-written one before it is
written, so a mistake never leaves a corpus that cannot be indexed.

    >>> add_documents(Path("corpus"), [Path("leaflet.pdf")], DocumentInfo(publisher="Riverside"))
    >>> remove_documents(Path("corpus"), ["leaflet.pdf"])
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from qa.data import Document
from qa.errors import CorpusError
from qa.files import write_atomic
from qa.ingest.corpus import METADATA_FILE, SUFFIXES, corpus_files, load_corpus, read_document, slug
from qa.ingest.webpage import web_address_problem
from qa.settings import MAX_FILE_MB

_YEAR = re.compile(r"\b(19|20)\d{2}\b")


@dataclass(frozen=True)
class DocumentInfo:
    """What `qa add` records for a file; None: not given."""

    title: str | None = None
    publisher: str | None = None
    url: str | None = None
    reviewed: str | None = None


@dataclass(frozen=True)
class Added:
    file: str
    id: str
    title: str
    pages: int  # 0 for a file without pages


def add_documents(corpus_dir: Path, files: list[Path], info: DocumentInfo, max_file_mb: float = MAX_FILE_MB) -> list[Added]:
    """Copy `files` into the corpus and record them in metadata.toml; CorpusError
    (nothing changed) for a file that cannot be read, a name or id taken, or bad info."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist: create it, or point --corpus or QA_CORPUS at it")
    if info.title is not None and len(files) > 1:
        raise CorpusError("--title names one document: add the files one at a time to give each its title")
    if info.reviewed is not None and not _YEAR.search(info.reviewed):
        raise CorpusError(f"--reviewed {info.reviewed!r} names no year: give the review date as written, with its year (2024, 2024-03 or March 2024)")
    if info.url is not None and web_address_problem(info.url):
        raise CorpusError(f"--url {info.url!r} {web_address_problem(info.url)}: give the original page's https:// address")
    metadata_path = corpus_dir / METADATA_FILE
    metadata_text = _read_metadata(metadata_path)
    taken = _ids(corpus_dir, metadata_text)
    entries, added, names = [], [], set()
    for path in files:
        target = _check_new(path, corpus_dir, names)
        doc = read_document(path, max_file_mb, progress=True)  # the whole file is read: a bad one is refused here
        doc_id = _free_id(slug(path.stem), taken)
        taken.add(doc_id)
        names.add(target.name)
        entries.append(_entry(target.name, doc_id, info))
        added.append(Added(target.name, doc_id, info.title or doc.title, len(doc.pages)))
    new_text = metadata_text.rstrip("\n") + ("\n\n" if metadata_text.strip() else "") + "\n\n".join(entries) + "\n"
    _check_metadata(new_text, metadata_path)
    for path in files:
        _write_atomic(corpus_dir / path.name, path.read_bytes())
    _write_atomic(metadata_path, new_text.encode("utf-8"))
    return added


def remove_documents(corpus_dir: Path, names: list[str]) -> list[str]:
    """Remove documents (by file name or id) and their metadata entries; returns the files removed."""
    metadata_path = corpus_dir / METADATA_FILE
    text = _read_metadata(metadata_path)
    known = {file: meta.id for file, meta in _metadata(text, metadata_path).items()}
    files = {p.name for p in corpus_files(corpus_dir)}
    by_id = {entry_id: file for file, entry_id in known.items()}
    removing = []
    for name in names:
        file = name if name in files else by_id.get(name, slug_file(name, files))
        if file is None or file not in files:
            raise CorpusError(f"no document {name!r} in {corpus_dir}: `qa list` shows the files and ids")
        removing.append(file)
    new_text = _without_entries(text, set(removing))
    _check_metadata(new_text, metadata_path)
    if new_text != text:
        _write_atomic(metadata_path, new_text.encode("utf-8"))
    for file in removing:
        (corpus_dir / file).unlink()
    return removing


def list_documents(corpus_dir: Path, max_file_mb: float = MAX_FILE_MB) -> list[Document]:
    return load_corpus(corpus_dir, max_file_mb)


def slug_file(name: str, files: set[str]) -> str | None:
    """The file whose id, taken from its name, is `name` (a file without an entry)."""
    return next((f for f in sorted(files) if slug(Path(f).stem) == name), None)


def _check_new(path: Path, corpus_dir: Path, names: set[str]) -> Path:
    if not path.is_file():
        raise CorpusError(f"{path} is not a file: give the path of the document to add")
    if path.suffix.lower() not in SUFFIXES:
        kind = path.suffix.lower() or "file without an extension"
        raise CorpusError(
            f"{path} is a {kind} file: only .txt, .md, .html, .pdf and .docx can be added; save it as PDF or .docx first"
        )
    target = corpus_dir / path.name
    if target.exists() or path.name in names or path.name == METADATA_FILE:
        if target.exists() and target.resolve() == path.resolve():
            raise CorpusError(f"{path} is already in the corpus folder: run `qa index` to index it")
        raise CorpusError(f"the corpus already has a file named {path.name}: rename yours, or `qa remove {path.name}` first")
    return target


def _read_metadata(path: Path) -> str:
    if not path.exists():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path} ({exc}): fix it before adding documents") from exc


def _metadata(text: str, path: Path) -> dict:
    """Each file's DocumentMeta, checked by the rules a hand-written metadata.toml must pass."""
    from qa.ingest.metadata import parse_metadata

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{path} is not valid TOML ({exc}): fix the line it names") from exc
    return parse_metadata(data, path)


def _ids(corpus_dir: Path, metadata_text: str) -> set[str]:
    """Every id in use: the metadata's (articles' included) and those taken from file names."""
    described = _metadata(metadata_text, corpus_dir / METADATA_FILE)
    ids = {meta.id for meta in described.values()} | {a.id for meta in described.values() for a in meta.article}
    try:
        files = corpus_files(corpus_dir)
    except CorpusError:
        files = []  # an empty corpus: the first document is being added
    return ids | {slug(p.stem) for p in files if p.name not in described}


def _free_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's; control characters are dropped."""
    import json

    clean = "".join(ch for ch in value if ch == "\t" or (ord(ch) >= 32 and ord(ch) != 127))
    return json.dumps(" ".join(clean.split()), ensure_ascii=False)


def _entry(file: str, doc_id: str, info: DocumentInfo) -> str:
    lines = ["[[document]]", f"file = {_toml_string(file)}", f"id = {_toml_string(doc_id)}"]
    for key in ("title", "publisher", "reviewed", "url"):
        value = getattr(info, key)
        if value is not None:
            lines.append(f"{key} = {_toml_string(value)}")
    lines[0] += "  # added with `qa add`"
    return "\n".join(lines)


def _without_entries(text: str, files: set[str]) -> str:
    """metadata.toml without the [[document]] tables (and their articles) of `files`;
    every other line, comments included, is kept as it was."""
    blocks = re.split(r"(?m)^(?=[ \t]*\[\[document\]\][ \t]*(?:#.*)?$)", text)
    kept = []
    for block in blocks:
        data = tomllib.loads(block) if block.lstrip().startswith("[[document]]") else {}
        entry = (data.get("document") or [{}])[0]
        if entry.get("file") in files:
            continue
        kept.append(block)
    return "".join(kept)


def _check_metadata(text: str, path: Path) -> None:
    """The new metadata passes the rules a hand-written one must (qa/ingest/metadata.py)."""
    _metadata(text, path)


def _write_atomic(target: Path, data: bytes) -> None:
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise CorpusError(f"cannot write {target} ({exc.strerror}): make the corpus folder writable") from exc

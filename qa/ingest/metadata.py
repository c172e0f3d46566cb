"""The schema of `corpus/metadata.toml`, checked with pydantic so that a wrong
type, a missing key or a misspelt one is an error naming the file and the key.

    [[document]]
    file = "leaflet.txt"        # required: a file in the corpus folder
    id = "clinic-leaflet"       # required
    title = "..."               # optional strings: title, publisher, reviewed,
                                # publisher_source, url, content_starts_with
    [[document.article]]        # optional: where each article of the file starts
    id = "part-1"               # required
    starts_with = "Part one"    # required: the start of the article's first line
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.errors import CorpusError

_NAMED = Field(min_length=1, pattern=r"\S")  # not empty, not only spaces


class _Entry(BaseModel):
    # strict: 5 is not the string "5"; forbid: "publsher" is a mistake, not a new key
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ArticleMeta(_Entry):
    id: str = _NAMED
    starts_with: str = _NAMED
    title: str | None = None
    publisher: str | None = None
    publisher_source: str | None = None
    reviewed: str | None = None
    url: str | None = None


class DocumentMeta(_Entry):
    file: str = _NAMED
    id: str = _NAMED
    title: str | None = None
    publisher: str | None = None
    publisher_source: str | None = None
    reviewed: str | None = None
    url: str | None = None
    content_starts_with: str | None = None
    article: list[ArticleMeta] = []


class Metadata(_Entry):
    document: list[DocumentMeta] = []


def parse_metadata(data: dict, path: Path) -> dict[str, DocumentMeta]:
    """Each document's metadata by file name; CorpusError names the entry and key at fault."""
    try:
        metadata = Metadata.model_validate(data)
    except ValidationError as exc:
        raise CorpusError(f"{path}: {_describe(exc.errors()[0], data)}: fix it in the metadata") from exc
    by_file: dict[str, DocumentMeta] = {}
    ids: set[str] = set()
    for doc in metadata.document:
        if doc.file in by_file:
            raise CorpusError(f"{path}: two [[document]] entries for file {doc.file!r}: keep one")
        for entry_id in [doc.id] + [a.id for a in doc.article]:
            if entry_id in ids:
                raise CorpusError(f"{path}: the id {entry_id!r} is used twice: ids must be unique")
            ids.add(entry_id)
        by_file[doc.file] = doc
    return by_file


def _describe(error: dict, data: dict) -> str:
    """'[[document]] 2 (file "a.txt"), key "publisher": must be a string, got 3'."""
    loc = list(error["loc"])
    where, node = [], data
    while loc and loc[0] in ("document", "article") and len(loc) > 1 and isinstance(loc[1], int):
        table, n = loc[:2]
        loc = loc[2:]
        node = node.get(table, [])[n] if isinstance(node, dict) else {}
        named = f' (file "{node["file"]}")' if isinstance(node, dict) and isinstance(node.get("file"), str) else ""
        where.append(f"[[{'document.' if table == 'article' else ''}{table}]] {n + 1}{named}")
    key = ".".join(str(part) for part in loc)
    place = ", ".join(where)
    if error["type"] == "missing":
        return f"{place or 'an entry'} needs a {key!r}"
    if error["type"] == "extra_forbidden":
        return f"{place + ', ' if place else ''}unknown key {key!r} (known: {', '.join(_known(where))})"
    problem = {
        "string_type": "must be a string (in quotes)",
        "list_type": "must be a list of tables",
        "string_too_short": "must not be empty",
        "string_pattern_mismatch": "must not be empty",
        "model_type": "must be a table",
    }.get(error["type"], error["msg"].lower())
    value = error.get("input")
    got = f", got {value!r}" if not isinstance(value, (dict, list)) else ""
    return f"{place + ', ' if place else ''}key {key!r} {problem}{got}"


def _known(where: list[str]) -> list[str]:
    model = Metadata if not where else ArticleMeta if where[-1].startswith("[[document.article]]") else DocumentMeta
    return list(model.model_fields)

"""`qa add`, `qa remove`, `qa list` and the index update that embeds only what
is new (issue 20, items 4 and 5): generated leaflets, the fake embedder."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

import qa.index.embed
from conftest import FakeEmbedder
from leaflets import write_docx_leaflet, write_pdf_leaflet, write_scanned_pdf
from qa.apps.cli import main
from qa.errors import CorpusError
from qa.index.builds import CURRENT
from qa.index.store import DATA_FILES, build_index, embed_text, load_index
from qa.ingest.corpus import load_corpus
from qa.ingest.library import DocumentInfo, add_documents, remove_documents


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts, progress=False):
        self.texts += list(texts)
        return super().encode(texts, progress)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _snapshot(corpus: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(corpus.iterdir())}


def test_add_copies_the_file_and_records_its_metadata(tiny_settings, tmp_path):
    corpus = tiny_settings.corpus_dir
    before = (corpus / "metadata.toml").read_text(encoding="utf-8")
    leaflet = write_pdf_leaflet(tmp_path / "Living well.pdf")
    info = DocumentInfo(publisher="Riverside Cancer Centre", reviewed="March 2019", url="https://example.org/leaflets/bone")
    [added] = add_documents(corpus, [leaflet], info)
    assert (added.file, added.id, added.title, added.pages) == ("Living well.pdf", "living-well", "Living with bone metastases", 2)
    assert (corpus / "Living well.pdf").read_bytes() == leaflet.read_bytes()
    after = (corpus / "metadata.toml").read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))  # what was there is kept as written
    entry = tomllib.loads(after)["document"][-1]
    assert entry == {"file": "Living well.pdf", "id": "living-well", "publisher": "Riverside Cancer Centre",
                     "reviewed": "March 2019", "url": "https://example.org/leaflets/bone"}
    doc = next(d for d in load_corpus(corpus) if d.id == "living-well")
    assert (doc.publisher, doc.articles[0].reviewed, doc.articles[0].url) == (
        "Riverside Cancer Centre", "March 2019", "https://example.org/leaflets/bone")


@pytest.mark.parametrize(
    ("make", "info", "message"),
    [
        (lambda d: write_scanned_pdf(d / "scan.pdf"), DocumentInfo(), "this PDF has no text; run OCR first"),
        (lambda d: _write(d / "notes.odt", b"PK\x03\x04"), DocumentInfo(), "is a .odt file: only .txt, .md, .html, .pdf and .docx"),
        (lambda d: _write(d / "basics.txt", b"Another text.\n"), DocumentInfo(), "already has a file named basics.txt"),
        (lambda d: write_docx_leaflet(d / "pain.docx"), DocumentInfo(reviewed="recently"), "names no year"),
        (lambda d: write_docx_leaflet(d / "pain.docx"), DocumentInfo(url="example.org"), "not a full web address"),
    ],
    ids=["scan", "unsupported", "name-taken", "no-year", "bad-url"],
)
def test_a_file_that_cannot_be_added_changes_nothing(tiny_settings, tmp_path, make, info, message):
    corpus = tiny_settings.corpus_dir
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    live = (tiny_settings.index_dir / CURRENT).read_text()
    before = _snapshot(corpus)
    outside = tmp_path / "incoming"
    outside.mkdir()
    with pytest.raises(CorpusError, match=message):
        add_documents(corpus, [make(outside)], info)
    assert _snapshot(corpus) == before
    assert (tiny_settings.index_dir / CURRENT).read_text() == live
    load_index(tiny_settings, FakeEmbedder())  # the index still answers


def test_adding_embeds_only_the_new_document_and_equals_a_full_rebuild(tiny_settings, tmp_path):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    add_documents(tiny_settings.corpus_dir, [write_pdf_leaflet(tmp_path / "leaflet.pdf")], DocumentInfo())
    counting = CountingEmbedder()
    incremental = build_index(tiny_settings, counting, progress=False)
    index = load_index(tiny_settings, FakeEmbedder())
    new = [c for c in index.chunks if c.file == "leaflet.pdf"]
    new_texts = {embed_text(c) for c in new} | {u.text for c in new for u in c.units}
    assert new and set(counting.texts) == new_texts  # nothing of the other documents was embedded again
    assert json.loads((incremental / "manifest.json").read_text())["embedded"] == len(counting.texts)
    full = build_index(tiny_settings.with_(index_dir=tmp_path / "full-index"), FakeEmbedder(), progress=False, reuse=False)
    a, b = (json.loads((build / "manifest.json").read_text()) for build in (incremental, full))
    assert a["files"] == b["files"] and a["corpus_hash"] == b["corpus_hash"] and a["settings_hash"] == b["settings_hash"]
    for name in DATA_FILES:
        assert (incremental / name).read_bytes() == (full / name).read_bytes(), name


def test_remove_takes_out_the_file_and_its_entry_only(tiny_settings, tmp_path):
    corpus = tiny_settings.corpus_dir
    original = (corpus / "metadata.toml").read_text(encoding="utf-8")
    add_documents(corpus, [write_docx_leaflet(tmp_path / "pain.docx")], DocumentInfo(publisher="Ward 4"))
    assert remove_documents(corpus, ["pain"]) == ["pain.docx"]  # by id
    assert not (corpus / "pain.docx").exists()
    assert (corpus / "metadata.toml").read_text(encoding="utf-8").rstrip("\n") == original.rstrip("\n")
    assert remove_documents(corpus, ["copy.txt"]) == ["copy.txt"]  # by file name
    assert [d.id for d in load_corpus(corpus)] == ["basics"]
    with pytest.raises(CorpusError, match="no document 'nothing'"):
        remove_documents(corpus, ["nothing"])


@pytest.fixture
def cli(tiny_settings, monkeypatch):
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    base = ["--corpus", str(tiny_settings.corpus_dir), "--index", str(tiny_settings.index_dir)]
    return lambda command, *args: main([command, *base, *args])


def test_the_commands_add_list_and_remove(cli, tiny_settings, tmp_path, capsys):
    assert cli("index") == 0
    leaflet = write_pdf_leaflet(tmp_path / "leaflet.pdf")
    assert cli("add", str(leaflet), "--publisher", "Riverside Cancer Centre", "--reviewed", "2019") == 0
    out = capsys.readouterr().out
    assert "added leaflet.pdf (id leaflet, 2 pages): Living with bone metastases" in out
    assert "index updated: 3 documents" in out and "new texts embedded" in out
    assert cli("list") == 0
    listed = capsys.readouterr().out
    assert "leaflet.pdf  (id leaflet, 2 pages)  Living with bone metastases — Riverside Cancer Centre, reviewed 2019" in listed
    assert "basics.txt  (id basics)" in listed
    assert cli("index") == 0 and "up to date" in capsys.readouterr().out  # the update left a fresh index
    assert cli("remove", "leaflet") == 0
    assert "removed leaflet.pdf" in capsys.readouterr().out
    assert cli("add", str(write_scanned_pdf(tmp_path / "scan.pdf"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "run OCR first" in err


def test_vectors_are_reused_only_from_the_same_model(tiny_settings):
    build_index(tiny_settings, FakeEmbedder(), progress=False)

    class OtherModel(CountingEmbedder):
        fingerprint = "another model's weights"

    other = OtherModel()
    build_index(tiny_settings, other, progress=False)
    chunks = load_index(tiny_settings, other).chunks
    assert len(other.texts) >= len(chunks)  # everything embedded anew
    assert np.isfinite(load_index(tiny_settings, other).chunk_vectors).all()


def test_vectors_are_reused_only_from_the_same_embedding_code(tiny_settings):
    # The AVX2 machine's index kept vectors from the batched int8 embedding after that
    # code changed: same weights, other vectors. A build by other code is not reused.
    from qa.index.store import current_build

    build_index(tiny_settings, FakeEmbedder(), progress=False)
    (tiny_settings.corpus_dir / "more.txt").write_text("A new leaflet about bone pain at night.\n", encoding="utf-8")
    same_code = CountingEmbedder()
    build_index(tiny_settings, same_code, progress=False)
    assert 0 < len(same_code.texts) < len(load_index(tiny_settings, same_code).chunks)  # the new leaflet alone
    manifest_path = current_build(tiny_settings.index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "embedding_code": "older code"}))
    (tiny_settings.corpus_dir / "more.txt").write_text("A new leaflet about bone pain in the evening.\n", encoding="utf-8")
    other_code = CountingEmbedder()
    build_index(tiny_settings, other_code, progress=False)
    assert len(other_code.texts) >= len(load_index(tiny_settings, other_code).chunks)  # everything embedded anew

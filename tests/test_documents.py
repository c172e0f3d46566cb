"""PDF and Word leaflets (qa/ingest/pdf.py, docx.py): read whole and in order,
page furniture left out, pages kept, and bad files refused with a clear message.
Every file is generated here (tests/leaflets.py), never shipped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from leaflets import (
    HEADER,
    PDF_BULLETS,
    PDF_SENTENCES,
    write_docx_leaflet,
    write_encrypted_pdf,
    write_pdf_leaflet,
    write_scanned_pdf,
)
from qa.errors import CorpusError
from qa.ingest.chunk import chunk_corpus
from qa.ingest.corpus import load_corpus


def _flat(text: str) -> str:
    return " ".join(text.split())


def _one(folder: Path, name: str, write, **kwargs):
    folder.mkdir(exist_ok=True)
    write(folder / name, **kwargs)
    return next(d for d in load_corpus(folder) if Path(d.path).name == name)


@pytest.mark.parametrize("interleave", [False, True], ids=["drawn-in-order", "drawn-across-columns"])
def test_a_two_column_pdf_reads_every_sentence_whole_and_in_order(tmp_path, interleave):
    doc = _one(tmp_path / "c", "leaflet.pdf", write_pdf_leaflet, interleave=interleave)
    text = _flat(doc.text)
    assert [s for s in PDF_SENTENCES + PDF_BULLETS if s not in text] == []
    # Reading order: each column is read top to bottom before the next.
    positions = [text.index(s) for s in PDF_SENTENCES]
    assert positions == sorted(positions)
    assert doc.title == "Living with bone metastases"
    assert len(doc.pages) == 2 and doc.pages[0] == 0


def test_hyphenated_line_ends_are_mended_and_real_hyphens_kept(tmp_path):
    text = _flat(_one(tmp_path / "c", "leaflet.pdf", write_pdf_leaflet).text)
    for word in ("jawbone", "dissolve", "painkillers", "hypercalcaemia", "physiotherapist"):
        assert word in text
    assert "high-energy" in text and "Radium-223" in text
    assert not re.search(r"[a-z]- ", text)  # no word left broken


def test_page_furniture_never_becomes_text_or_an_answer_unit(tmp_path):
    doc = _one(tmp_path / "c", "leaflet.pdf", write_pdf_leaflet)
    for furniture in (HEADER, "Page 1 of 2", "Page 2 of 2", "Continued overleaf", "Patient information"):
        assert furniture not in doc.text
    units = [u.text for c in chunk_corpus([doc], 300, 1) for u in c.units]
    assert units and not any("Page " in u or "overleaf" in u.lower() or "Riverside" in u for u in units)


def test_every_unit_of_a_pdf_keeps_its_page(tmp_path):
    doc = _one(tmp_path / "c", "leaflet.pdf", write_pdf_leaflet)
    chunks = chunk_corpus([doc], 300, 1)
    page_of = {u.text.split()[0] + " " + u.text.split()[1]: u.page for c in chunks for u in c.units}
    assert page_of["Bone metastases"] == 1
    assert page_of["A surgeon"] == 2
    assert page_of["Keep a"] == 2
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.span.start : chunk.span.end]  # quotes verbatim from the extraction
        assert chunk.pages in ((1,), (2,), (1, 2))
        for unit in chunk.units:
            assert unit.page == doc.page_at(unit.span.start)
    # The paragraph that runs from page 1 onto page 2 is cited as pages 1-2.
    crossing = next(c for c in chunks if "flare up" in c.text)
    assert crossing.pages == (1, 2)


def test_headings_ending_in_a_bracket_are_sections_not_answers(tmp_path):
    doc = _one(tmp_path / "c", "leaflet.pdf", write_pdf_leaflet)
    chunks = chunk_corpus([doc], 300, 1)
    sections = {c.section for c in chunks}
    assert {"Radium-223 (Xofigo\u00ae)", "High calcium levels (hypercalcaemia)"} <= sections
    assert not any(u.text.startswith(("Radium-223 (", "High calcium levels")) for c in chunks for u in c.units)


def test_a_word_leaflet_keeps_headings_lists_and_leaves_tables_out(tmp_path):
    doc = _one(tmp_path / "c", "pain.docx", write_docx_leaflet)
    assert doc.title == "Bone pain and how to ease it" and doc.pages == ()
    chunks = chunk_corpus([doc], 300, 1)
    sections = {c.section for c in chunks}
    assert {"Why bones ache", "Radiotherapy (a single dose)", "Things that help at home"} <= sections
    units = [u for c in chunks for u in c.units]
    lead = next(u for u in units if u.text.startswith("Many people find these helpful:"))
    assert lead.text.endswith("a pillow between the knees at night")  # the lead-in keeps its list
    assert next(u for u in units if u.text.startswith("Ask for help")).text.endswith("out of hours")
    assert not any("Every four weeks" in u.text for u in units)  # the table is no answer
    assert all(u.page is None for u in units)


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("scan.pdf", write_scanned_pdf, "this PDF has no text; run OCR first"),
        ("locked.pdf", write_encrypted_pdf, "protected by a password"),
        ("broken.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4), "not a readable PDF"),
        ("broken.docx", lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "not a readable Word file"),
        ("old.docx", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600), "old Word (.doc) file"),
    ],
)
def test_bad_files_are_one_clear_message_naming_the_file(tmp_path, name, write, message):
    write(tmp_path / name)
    with pytest.raises(CorpusError, match=re.escape(message)) as caught:
        load_corpus(tmp_path)
    assert name in str(caught.value)


def test_a_truncated_pdf_is_read_as_far_as_it_goes_or_refused(tmp_path):
    whole = write_pdf_leaflet(tmp_path / "whole.pdf")
    data = whole.read_bytes()
    whole.unlink()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    try:
        docs = load_corpus(tmp_path)
    except CorpusError as exc:
        assert "cut.pdf" in str(exc)
    else:
        assert docs[0].text.strip()


def test_a_500_page_pdf_is_read_with_a_progress_bar(tmp_path, capsys):
    write_pdf_leaflet(tmp_path / "long.pdf", repeat=385)
    doc = load_corpus(tmp_path, progress=True)[0]
    assert len(doc.pages) >= 500
    assert doc.page_at(len(doc.text) - 1) == len(doc.pages)
    assert "reading long.pdf" in capsys.readouterr().err


def test_the_index_stores_the_extraction_and_each_units_page(tmp_path):
    from conftest import FakeEmbedder

    from qa.index.store import build_index, load_index
    from qa.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf_leaflet(corpus / "leaflet.pdf")
    write_docx_leaflet(corpus / "pain.docx")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build = build_index(settings, FakeEmbedder(), progress=False)
    extracted = json.loads((build / "extracted.json").read_text(encoding="utf-8"))
    assert set(extracted) == {"leaflet.pdf", "pain.docx"}
    index = load_index(settings, FakeEmbedder())
    for chunk in index.chunks:
        text = extracted[chunk.file]["text"]
        assert text[chunk.span.start : chunk.span.end] == chunk.text
        for unit in chunk.units:
            assert text[unit.span.start : unit.span.end] == unit.text
    pdf_units = [u for c in index.chunks if c.file == "leaflet.pdf" for u in c.units]
    assert {u.page for u in pdf_units} == {1, 2}
    assert all(u.page is None for c in index.chunks if c.file == "pain.docx" for u in c.units)


def test_a_lead_in_whose_list_is_missing_is_never_the_answer(tiny_settings):
    # The example from a clinic's leaflet (issue 20): the list the lead-in promised is not there.
    from qa.answering.assistant import Assistant

    from conftest import FakeEmbedder

    (tiny_settings.corpus_dir / "spread.txt").write_text(
        "Where bone metastases come from\n\n"
        "Bone metastases most often come from the following cancers:\n\n"
        "Doctors watch the bones closely in these patients.\n",
        encoding="utf-8",
    )
    assistant = Assistant.load(tiny_settings, embedder=FakeEmbedder())
    answer = assistant.ask("which cancers do bone metastases most often come from?")
    assert not any(u.text.rstrip().endswith(":") for u in answer.units)
    assert "following cancers:" not in answer.text

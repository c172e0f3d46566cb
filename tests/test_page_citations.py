"""A PDF leaflet's answers name their page: the citation, the JSON, the
terminal's and the chat's source lines (issue 20, item 2)."""

from __future__ import annotations

import json

import pytest

from conftest import FakeEmbedder
from leaflets import write_pdf_leaflet
from qa.data import Chunk, Citation, Span, Unit


@pytest.fixture
def pdf_assistant(tiny_settings):
    from qa.answering.assistant import Assistant

    write_pdf_leaflet(tiny_settings.corpus_dir / "leaflet.pdf")
    with (tiny_settings.corpus_dir / "metadata.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[document]]\nfile = "leaflet.pdf"\nid = "riverside"\npublisher = "Riverside Cancer Centre"\n')
    return Assistant.load(tiny_settings, embedder=FakeEmbedder())


def test_an_answer_from_a_pdf_names_its_page_everywhere(pdf_assistant):
    from qa.apps.chat import render_answer, to_plain
    from qa.apps.cli import format_answer

    answer = pdf_assistant.ask("can cement be injected into a collapsed vertebra?")
    assert not answer.abstained
    assert "Cement can be injected into a collapsed vertebra" in answer.text
    cited = answer.citations[answer.units[0].citation - 1]
    assert (cited.title, cited.publisher, cited.pages, cited.page_label) == (
        "Living with bone metastases", "Riverside Cancer Centre", (2,), "p. 2")
    record = json.loads(json.dumps(answer.to_json()))
    assert record["citations"][cited.n - 1]["page"] == "p. 2"
    assert record["citations"][cited.n - 1]["pages"] == [2]
    assert 'section "Operations to support a weak bone", p. 2' in format_answer(answer, width=200)
    assert 'section "Operations to support a weak bone", p. 2' in to_plain(answer)
    assert "Operations to support a weak bone · p. 2</summary>" in render_answer(answer)


def test_a_text_file_has_no_page_and_a_quote_over_a_page_break_names_both():
    chunk = Chunk(0, "d", "d", "d.txt", "T", "P", "S", Span(0, 3), "abc", (Unit(Span(0, 3), "abc"),))
    from qa.answering.citations import cite

    citations: list[Citation] = []
    cite(citations, chunk)
    assert citations[0].page_label == "" and citations[0].pages == ()
    paged = Chunk(1, "e", "e", "e.pdf", "T", "P", "S", Span(0, 3), "abc", (Unit(Span(0, 3), "abc", page=3),), pages=(3, 4))
    cite(citations, paged)
    assert citations[1].page_label == "pp. 3\u20134"
    record_pages = [c["pages"] for c in _json(citations)]
    assert record_pages == [[], [3, 4]]


def _json(citations):
    from qa.data import Answer

    return Answer("q", (), tuple(citations), False, 0.5, "not advice").to_json()["citations"]

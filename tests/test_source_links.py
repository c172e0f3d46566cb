"""Each source links its original page where the document or metadata.toml gives
one (corpus -> chunks -> citations -> JSON), and never invents one."""

from pathlib import Path

import pytest
from conftest import FakeEmbedder

from qa.answering.assistant import Assistant
from qa.errors import CorpusError
from qa.ingest.chunk import chunk_corpus
from qa.ingest.corpus import canonical_url, load_corpus
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
URL = "https://www.example.org/bone-health-basics"


def test_metadata_url_reaches_chunks_citations_and_json(tiny_corpus, tmp_path):
    meta = tiny_corpus / "metadata.toml"
    meta.write_text(meta.read_text().replace('publisher = "Example Clinic"\n', f'publisher = "Example Clinic"\nurl = "{URL}"\n', 1))
    docs = {d.id: d for d in load_corpus(tiny_corpus)}
    assert docs["basics"].articles[0].url == URL and docs["copy"].articles[0].url is None
    assert {c.url for c in chunk_corpus(list(docs.values()), 300, 1) if c.doc_id == "basics"} == {URL}
    from conftest import write_fake_answer_model

    fakes = write_fake_answer_model(tmp_path / "fake-answer-model")
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "index", answer_model_path=fakes, use_reader=False)
    assistant = Assistant.load(settings, embedder=FakeEmbedder())
    answer = assistant.ask("what is a bisphosphonate?")
    assert answer.citations and {c.url for c in answer.citations} == {URL}
    assert answer.to_json()["citations"][0]["url"] == URL


def test_an_article_of_a_compilation_has_only_its_own_url(tmp_path):
    (tmp_path / "both.txt").write_text("First article\n\nOne.\n\nSecond article\n\nTwo.\n", encoding="utf-8")
    (tmp_path / "metadata.toml").write_text(
        '[[document]]\nfile = "both.txt"\nid = "both"\nurl = "https://example.org/compilation"\n'
        '  [[document.article]]\n  id = "a"\n  starts_with = "First article"\n  url = "https://a.example.org/one"\n'
        '  [[document.article]]\n  id = "b"\n  starts_with = "Second article"\n',
        encoding="utf-8",
    )
    (doc,) = load_corpus(tmp_path)
    assert [a.url for a in doc.articles] == ["https://a.example.org/one", None]


def test_a_saved_page_gives_its_own_address_only_on_the_metadatas_host(tmp_path):
    """A page's canonical link is its own claim (it may name a phishing site):
    it only makes the metadata's address more precise on the same host
    (issue 22, item 6; tests/test_webpage.py has the hostile cases)."""
    page = '<html><head><link rel="canonical" href="https://example.org/pain"><title>Pain</title></head><body><p>Heat helps.</p></body></html>'
    assert canonical_url(page) == "https://example.org/pain"
    assert canonical_url('<meta property="og:url" content="https://example.org/og">') == "https://example.org/og"
    assert canonical_url("<p>no address</p>") is None
    (tmp_path / "pain.html").write_text(page, encoding="utf-8")
    (tmp_path / "relative.html").write_text('<link rel="canonical" href="/pain"><p>Rest.</p>', encoding="utf-8")
    docs = {d.id: d for d in load_corpus(tmp_path)}
    assert docs["pain"].articles[0].url is None  # the page's word alone
    assert docs["relative"].articles[0].url is None  # not a full address: ignored, not guessed
    (tmp_path / "metadata.toml").write_text(
        '[[document]]\nfile = "pain.html"\nid = "pain"\nurl = "https://example.org/other"\n'
        '[[document]]\nfile = "relative.html"\nid = "relative"\nurl = "https://example.org/rest"\n'
    )
    docs = {d.id: d for d in load_corpus(tmp_path)}
    assert docs["pain"].articles[0].url == "https://example.org/pain"
    assert docs["relative"].articles[0].url == "https://example.org/rest"


@pytest.mark.parametrize(
    "value, message",
    [
        ('"example.org/page"', "metadata.toml is not a full web address"),
        ('"javascript:alert(1)"', "metadata.toml is not a full web address"),
        ('"https://"', "metadata.toml is not a full web address"),
        ("42", "key 'url' must be a string"),  # the metadata schema catches it first
    ],
)
def test_a_metadata_url_must_be_a_full_web_address(tmp_path, value, message):
    (tmp_path / "a.txt").write_text("Title\n\nText.\n", encoding="utf-8")
    (tmp_path / "metadata.toml").write_text(f'[[document]]\nfile = "a.txt"\nid = "a"\nurl = {value}\n')
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path)


def test_the_shipped_sources_state_no_address_so_none_is_shown():
    """None of the five texts gives its page's address (checked by hand): no link is invented."""
    docs = load_corpus(ROOT / "corpus")
    assert all(a.url is None for d in docs for a in d.articles)
    assert not any("http" in d.text for d in docs)

from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.ingest.corpus import corpus_hash, html_to_text, load_corpus

ROOT = Path(__file__).resolve().parents[1]


def test_real_corpus_has_metadata_and_splits_the_compilation():
    docs = {d.id: d for d in load_corpus(ROOT / "corpus")}
    assert set(docs) == {"webmd-bone-mets-page", "webmd-bone-mets", "acs-bone-mets-problems", "compilation", "csc-bone-mets"}
    compilation = docs["compilation"]
    assert len(compilation.articles) == 9
    publishers = {a.publisher for a in compilation.articles}
    assert {"Breastcancer.org", "OncoLink", "Breast Cancer Now"} <= publishers
    oncolink = next(a for a in compilation.articles if a.id == "oncolink-bone-mets")
    text = compilation.text[oncolink.span.start : oncolink.span.end]
    assert text.startswith("All About Bone Metastases")
    assert "Painful hip fractures" not in text  # the next article starts there
    # Articles tile the document without gaps or overlaps.
    for a, b in zip(compilation.articles, compilation.articles[1:]):
        assert a.span.end == b.span.start
    assert docs["webmd-bone-mets"].articles[0].reviewed == "September 14, 2011"


def test_navigation_before_the_title_is_not_content():
    page = next(d for d in load_corpus(ROOT / "corpus") if d.id == "webmd-bone-mets-page")
    assert page.text[page.content_start :].startswith("Bone Metastasis: What Happens")
    assert "Pill Identifier" in page.text[: page.content_start]


def test_user_documents_are_picked_up_with_a_title_from_their_heading(tmp_path):
    (tmp_path / "notes.md").write_text("# Living well with bone mets\n\nGentle yoga can help.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Pain tips</title><script>var x = 1;</script></head>"
        "<body><nav>Home | About</nav><h1>Pain tips</h1><p>Heat packs can ease aches.</p>"
        "<ul><li>Rest</li><li>Walk</li></ul></body></html>",
        encoding="utf-8",
    )
    docs = {d.id: d for d in load_corpus(tmp_path)}
    assert docs["notes"].title == "Living well with bone mets"
    assert docs["page"].title == "Pain tips"
    assert "Heat packs can ease aches." in docs["page"].text
    assert "var x" not in docs["page"].text and "Home | About" not in docs["page"].text
    assert "  • Rest" in docs["page"].text


def test_html_to_text_keeps_blocks_apart():
    text, title = html_to_text("<p>One.</p><p>Two &amp; three.</p>")
    assert text == "One.\n\nTwo & three.\n"
    assert title is None


def test_missing_or_empty_corpus_names_the_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="no .txt, .md, .html, .pdf or .docx"):
        load_corpus(tmp_path)


def test_undecodable_and_binary_files_are_named(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin1.txt is not UTF-8"):
        load_corpus(tmp_path)
    bad.unlink()
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CorpusError, match="blob.txt looks like a binary file"):
        load_corpus(tmp_path)


def test_empty_file_and_bad_metadata_are_clear_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="empty.txt is empty"):
        load_corpus(tmp_path)
    (tmp_path / "empty.txt").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "metadata.toml").write_text("[[document]\nfile=", encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid TOML"):
        load_corpus(tmp_path)


def test_a_wrong_article_marker_is_reported(tmp_path):
    (tmp_path / "a.txt").write_text("Intro\n\nText.\n", encoding="utf-8")
    (tmp_path / "metadata.toml").write_text(
        '[[document]]\nfile = "a.txt"\nid = "a"\n[[document.article]]\nid = "x"\nstarts_with = "Nope"\n', encoding="utf-8"
    )
    with pytest.raises(CorpusError, match="no line starts with 'Nope'"):
        load_corpus(tmp_path)


def test_corpus_hash_changes_with_any_file(tmp_path):
    (tmp_path / "a.txt").write_text("One.\n", encoding="utf-8")
    before = corpus_hash(tmp_path)
    (tmp_path / "a.txt").write_text("One!\n", encoding="utf-8")
    assert corpus_hash(tmp_path) != before

from pathlib import Path

import pytest

from qa.ingest.chunk import chunk_corpus, normalise, sentences
from qa.ingest.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real():
    docs = load_corpus(ROOT / "corpus")
    return {d.id: d for d in docs}, chunk_corpus(docs, 600, 1)


def test_offsets_give_back_the_exact_text(real):
    docs, chunks = real
    for chunk in chunks:
        doc = docs[chunk.doc_id]
        assert doc.text[chunk.span.start : chunk.span.end] == chunk.text
        for unit in chunk.units:
            assert doc.text[unit.span.start : unit.span.end] == unit.text
            assert chunk.span.start <= unit.span.start < unit.span.end <= chunk.span.end


def test_chunks_stay_inside_one_article_and_section(real):
    docs, chunks = real
    for chunk in chunks:
        doc = docs[chunk.doc_id]
        article = next(a for a in doc.articles if a.id == chunk.article_id)
        assert article.span.start <= chunk.span.start and chunk.span.end <= article.span.end
        # No heading inside the chunk: it would mean a section boundary was crossed.
        for line in chunk.text.splitlines()[1:]:
            assert line.strip() != chunk.section
    ids = {c.article_id for c in chunks}
    assert {"breastcancer-org-bone-mets", "northwestern-hip-fractures", "ctca-metastatic-breast"} <= ids


def test_a_short_list_stays_with_its_lead_in(real):
    _, chunks = real
    units = [u.text for c in chunks for u in c.units]
    lead = next(u for u in units if u.startswith("Early symptoms of having too much calcium"))
    assert "Constipation" in lead and "Feeling thirsty all the time" in lead


def test_a_lead_in_never_ends_a_chunk(real):
    _, chunks = real
    for chunk in chunks:
        last = chunk.units[-1]
        # A lead-in to a long list is flagged as context; it must be followed by its first item.
        assert not (last.is_question and last.text.rstrip().endswith(":")), last.text


def test_repeated_passages_are_stored_once_and_list_their_copies(real):
    _, chunks = real
    needle = normalise("Bone pain. This is often the first symptom of bone mets.")
    holders = [c for c in chunks if needle in normalise(c.text)]
    assert {c.doc_id for c in holders} == {"webmd-bone-mets"}
    assert all("webmd-bone-mets-page" in c.also_in for c in holders)
    assert not any(c.doc_id == "webmd-bone-mets-page" for c in chunks)


def test_questions_in_the_source_are_context_not_answers(real):
    _, chunks = real
    questions = [u for c in chunks for u in c.units if u.text.strip() == "How does it happen?"]
    assert questions and all(u.is_question for u in questions)


def test_chunk_size_and_overlap_are_honoured(tiny_corpus):
    docs = load_corpus(tiny_corpus)
    small = chunk_corpus(docs, 60, 0)
    large = chunk_corpus(docs, 2000, 0)
    assert len(small) > len(large)
    overlapping = chunk_corpus(docs, 150, 1)
    shared = [a.units[-1] == b.units[0] for a, b in zip(overlapping, overlapping[1:]) if a.section == b.section]
    assert any(shared)
    with pytest.raises(ValueError, match="chunk_chars"):
        chunk_corpus(docs, 10, 0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_corpus(docs, 600, -1)


def test_sentence_labels_join_the_sentence_they_label():
    text = "Bone pain. This is often the first symptom. It may come and go."
    spans = [text[s.start : s.end] for s in sentences(text)]
    assert spans == ["Bone pain. This is often the first symptom.", "It may come and go."]

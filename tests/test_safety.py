import re

import pytest

from qa.answering.safety import answer_topics, find_advice, refers_back, urgent_topics
from qa.ingest.chunk import chunk_corpus
from qa.ingest.corpus import load_corpus


def test_urgent_signs_in_plain_words():
    assert urgent_topics("my back hurts and my legs feel weak and numb") == ["spinal cord compression"]
    assert "spinal cord compression" in urgent_topics("he lost control of his bladder")
    assert "high calcium" in urgent_topics("mom is confused and extremely thirsty")
    assert "fracture" in urgent_topics("sudden severe pain in my hip, did it break?")
    assert "fracture" in urgent_topics("I think I broke my arm")


def test_ordinary_questions_are_not_urgent():
    for question in ("what is xgeva?", "how common is bone metastasis?", "what foods have calcium?", "can I exercise?"):
        assert urgent_topics(question) == [], question


def test_answers_about_urgent_signs_are_spotted():
    assert answer_topics(["This is called spinal cord compression and is very serious."]) == ["spinal cord compression"]
    assert answer_topics(["Bisphosphonates slow bone loss."]) == []


def test_advice_is_found_in_the_corpus_verbatim(tiny_corpus):
    docs = load_corpus(tiny_corpus)
    chunks = chunk_corpus(docs, 300, 0)
    advice = find_advice(chunks)
    assert set(advice) >= {"spinal cord compression", "high calcium"}
    assert "emergency room" in advice["spinal cord compression"].unit.text
    assert "call your doctor right away" in advice["high calcium"].unit.text
    text = docs[0].text
    for item in advice.values():
        assert text[item.unit.span.start : item.unit.span.end] == item.unit.text


def test_advice_pointing_back_at_signs_carries_them(tiny_corpus):
    docs = load_corpus(tiny_corpus)
    advice = find_advice(chunk_corpus(docs, 300, 1))["high calcium"]
    assert advice.unit.text == (
        "High calcium in the blood can cause extreme thirst and confusion. "
        "If you have these symptoms, call your doctor right away."
    )
    assert advice.unit.text in advice.chunk.text  # the citation's quote holds all of it
    assert docs[0].text[advice.chunk.span.start : advice.chunk.span.end] == advice.chunk.text


@pytest.mark.slow
def test_real_advice_always_names_its_signs(assistant, real_corpus):
    """In the real corpus the calcium advice ("If you experience these symptoms...")
    sits in another chunk than the signs it means: it is shown with them."""
    calcium = assistant.advice["high calcium"]
    assert "thirst" in calcium.unit.text and calcium.unit.text.endswith("alert your medical team right away.")
    for advice in assistant.advice.values():
        raw = (real_corpus / advice.chunk.file).read_text(encoding="utf-8")
        assert raw[advice.unit.span.start : advice.unit.span.end] == advice.unit.text
        assert raw[advice.chunk.span.start : advice.chunk.span.end] == advice.chunk.text
        assert advice.unit.text in advice.chunk.text
        if refers_back(advice.unit.text):  # then the sentences it points at come first
            assert len(re.split(r"(?<=[.!?])\s+", advice.unit.text)) > 1, advice.unit.text


def test_what_counts_as_pointing_back():
    assert refers_back("If you experience these symptoms, alert your medical team right away.")
    assert refers_back("If you notice symptoms like these, call your doctor right away.")
    assert not refers_back("Call your doctor right away if you have these symptoms:\n  • Back pain")
    assert not refers_back("Alert your doctor immediately if you have sudden, severe bone pain.")


LEAFLET = """Living with secondary bone cancer

High calcium (hypercalcaemia)

Cancer in the bones can raise the calcium in your blood. This is called hypercalcaemia.

If you feel very thirsty, muddled or are being sick, ring your 24-hour oncology line straight away.

Pressure on the spinal cord

Back pain with tingling in your legs can mean pressure on the spinal cord (MSCC). Go to A&E or call 999 if your legs become weak.
"""


def test_british_advice_in_an_added_leaflet_is_found_by_topic(tiny_corpus):
    (tiny_corpus / "leaflet.txt").write_text(LEAFLET, encoding="utf-8")
    docs = load_corpus(tiny_corpus)
    from qa.answering.safety import advice_in_each_file

    by_file = advice_in_each_file(chunk_corpus(docs, 300, 1))
    assert "24-hour oncology line straight away" in by_file["high calcium"]["leaflet.txt"].unit.text
    assert "A&E" in by_file["spinal cord compression"]["leaflet.txt"].unit.text
    assert "call your doctor right away" in by_file["high calcium"]["basics.txt"].unit.text  # each document its own
    assert answer_topics(["This is called hypercalcaemia."]) == ["high calcium"]
    assert answer_topics(["It can mean pressure on the spinal cord (MSCC)."]) == ["spinal cord compression"]


def test_an_answer_quoting_a_leaflet_brings_that_leaflets_advice(tiny_settings):
    from conftest import FakeEmbedder

    from qa.answering.assistant import Assistant

    (tiny_settings.corpus_dir / "leaflet.txt").write_text(LEAFLET, encoding="utf-8")
    assistant = Assistant.load(tiny_settings, embedder=FakeEmbedder())
    answer = assistant.ask("what is hypercalcaemia and what raises the calcium in the blood")
    assert not answer.abstained and any(c.file == "leaflet.txt" for c in answer.citations), answer.text
    shown = answer.urgent or answer.help_note
    assert shown is not None and "24-hour oncology line" in shown.text
    assert answer.citations[shown.citation - 1].file == "leaflet.txt"

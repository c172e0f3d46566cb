from qa.chunk import chunk_corpus
from qa.corpus import load_corpus
from qa.safety import answer_topics, find_advice, urgent_topics


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

"""The assistant end to end on the tiny corpus with the fake embedder."""

import pytest

from qa.answering.safety import DISCLAIMER
from qa.language.question import clean_question
from qa.settings import MAX_QUESTION_CHARS


def _raw(assistant, citation):
    path = assistant.settings.corpus_dir / citation.file
    return path.read_text(encoding="utf-8")


def test_answer_units_are_verbatim_and_cited(fake_assistant):
    answer = fake_assistant.ask("what are the side effects of zometa?")
    assert not answer.abstained
    assert "headache" in answer.text
    assert 1 <= len(answer.units) <= 3
    for unit in answer.units:
        citation = answer.citations[unit.citation - 1]
        assert citation.n == unit.citation
        assert unit.text in citation.quote
        raw = _raw(fake_assistant, citation)
        assert raw[citation.span.start : citation.span.end] == citation.quote
    assert answer.disclaimer == DISCLAIMER
    assert 0.0 <= answer.confidence <= 1.0


def test_off_topic_questions_abstain(fake_assistant):
    for question in ("how do I renew my passport?", "what's a good pasta recipe?", "will it rain in paris tomorrow?"):
        answer = fake_assistant.ask(question)
        assert answer.abstained, question
        assert answer.units == ()
        assert "don't cover" in answer.message
        assert answer.disclaimer == DISCLAIMER


def test_uncovered_drug_abstains_and_says_which_word(fake_assistant):
    answer = fake_assistant.ask("what is the right dose of tamoxifen?")
    assert answer.abstained and "tamoxifen" in answer.message
    # Named even when it is the only word the question is about.
    answer = fake_assistant.ask("what are the side effects of keytruda?")
    assert answer.abstained and "keytruda" in answer.message


def test_an_abstention_on_a_figure_says_the_sources_lack_it(tiny_settings):
    from conftest import FakeEmbedder

    from qa.answering.assistant import Assistant

    strict = Assistant.load(tiny_settings.with_(abstain_below=0.99), embedder=FakeEmbedder())
    answer = strict.ask("how much does zometa cost?")
    assert answer.abstained and "don't give that figure" in answer.message
    assert "figure" not in strict.ask("what is a passport?").message


def test_follow_up_uses_history_and_standalone_ignores_it(fake_assistant):
    answer = fake_assistant.ask("what are its side effects?", ["what is zometa?"])
    assert "zometa" in answer.resolved_question and "headache" in answer.text
    standalone = fake_assistant.ask("what causes spinal cord compression?", ["what is zometa?"])
    assert standalone.resolved_question == "what causes spinal cord compression?"


def test_a_question_naming_a_subject_is_read_with_the_conversations_too(fake_assistant, monkeypatch):
    """"can i put them in my weekly pill box" names words of its own yet leans
    on the earlier question: read with the conversation's subject too, that
    reading is kept when it is sure enough to answer; one that turns to
    another drug ("what is xgeva?" after zometa) keeps it only when surer."""
    prepared = fake_assistant.prepare("can i put them in my weekly pill box", ["what is zometa?"])
    assert not prepared.is_followup  # its own words hide that it leans back
    threshold = fake_assistant.threshold
    own = threshold + 0.2

    def trusting(subject_confidence):
        def read(query, text, *rest):
            return [], subject_confidence if "zometa" in query else own, None
        return read

    for subject_confidence in (own + 0.1, threshold + 0.05):  # surer, or less sure but sure enough
        monkeypatch.setattr(fake_assistant, "read", trusting(subject_confidence))
        assert fake_assistant._read_message(prepared)[0].endswith("zometa")
    monkeypatch.setattr(fake_assistant, "read", trusting(threshold - 0.05))
    assert fake_assistant._read_message(prepared)[0] == "can i put them in my weekly pill box"
    switch = fake_assistant.prepare("how is xgeva given", ["what is zometa?"])
    assert not switch.is_followup
    monkeypatch.setattr(fake_assistant, "read", trusting(threshold + 0.05))
    assert fake_assistant._read_message(switch)[0] == "how is xgeva given"
    monkeypatch.setattr(fake_assistant, "read", trusting(own + 0.1))
    assert fake_assistant._read_message(switch)[0].endswith("zometa")


def test_triage_reads_the_message_as_it_was_trained_whichever_reading_wins(fake_assistant, monkeypatch):
    """Triage learned from the prepared question's vector: a reading with the
    conversation's subject added must not change what it sees (it hid an
    urgent sign once: "my dad's legs went numb, is that it?")."""
    import numpy as np

    read, assess, seen = fake_assistant.read, fake_assistant.assess, []

    def leaning_wins(query, text, *rest):
        picks, confidence, vector = read(query, text, *rest)
        return (picks, 0.99, np.zeros_like(vector)) if "zometa" in query else (picks, confidence, vector)

    monkeypatch.setattr(fake_assistant, "read", leaning_wins)
    monkeypatch.setattr(fake_assistant, "assess", lambda prepared, vector: seen.append(vector) or assess(prepared, vector))
    history = ["what is zometa?"]
    answer = fake_assistant.ask("can i put them in my weekly pill box", history)
    assert answer.resolved_question.endswith("zometa")
    query = fake_assistant.prepare("can i put them in my weekly pill box", history).query
    assert np.array_equal(seen[0], fake_assistant.embed(query)) and seen[0].any()


def test_a_part_leans_on_the_story_before_it(fake_assistant, monkeypatch):
    prepared = fake_assistant.prepare("My mum is on treatment. The nurse mentioned zometa. What is that for, and what are its side effects?")
    assert prepared.parts == ("What is that for", "and what are its side effects?")  # read without its "and"
    assert prepared.story == "My mum is on treatment. The nurse mentioned zometa."
    asked = []
    read = fake_assistant.read
    monkeypatch.setattr(fake_assistant, "read", lambda query, text, *rest: asked.append(query) or read(query, text, *rest))
    answer = fake_assistant.ask("My mum is on treatment. The nurse mentioned zometa. What is that for, and what are its side effects?")
    assert "headache" in answer.text
    # Each part was read with the drug the story names.
    assert any(q.startswith("what are its side effects?") and "zometa" in q for q in asked), asked


def test_the_whole_message_leads_and_each_part_adds_its_best(fake_assistant, monkeypatch):
    """A part read alone can be sure of another topic's sentence (on unseen
    leaflets, "Is there a gentler version for people like him?" after a story
    about a transplant gave a sentence about massage): the message read whole,
    story and all, gives the first unit, and each part's best follows."""
    message = "My mum is on treatment. The nurse mentioned zometa. What is that for, and what are its side effects?"
    prepared = fake_assistant.prepare(message)
    whole_first = fake_assistant.read(prepared.query, prepared.text)[0][0].unit.text
    elsewhere = fake_assistant.read("walking every day keeps muscles strong", "walking")[0][0]
    assert elsewhere.unit.text != whole_first
    read = fake_assistant.read

    def sure_of_exercise(query, text, *rest):
        picks, confidence, vector = read(query, text, *rest)
        return ([elsewhere], 0.99, vector) if text != prepared.text else (picks, confidence, vector)

    monkeypatch.setattr(fake_assistant, "read", sure_of_exercise)
    answer = fake_assistant.ask(message)
    assert [u.text for u in answer.units][:2] == [whole_first, elsewhere.unit.text]


def test_urgent_questions_start_with_the_sources_advice(fake_assistant):
    answer = fake_assistant.ask("my back hurts and my legs feel weak")
    assert answer.urgent is not None
    assert "emergency room" in answer.urgent.text
    citation = answer.citations[answer.urgent.citation - 1]
    assert answer.urgent.text in citation.quote
    calcium = fake_assistant.ask("my mom is confused and extremely thirsty")
    assert calcium.urgent is not None and "call your doctor right away" in calcium.urgent.text


def test_urgent_advice_survives_an_abstention(fake_assistant):
    answer = fake_assistant.ask("he lost control of his bladder, what is the prognosis in percent for glioblastoma?")
    assert answer.abstained
    assert answer.urgent is not None


@pytest.mark.parametrize(
    "question, message",
    [
        ("", "Please type a question"),
        ("   \n\t ", "Please type a question"),
        ("x" * (MAX_QUESTION_CHARS + 1), "characters long"),
        ("\x00\x01\x02\x03\x04\x05", "doesn't look like a question"),
        ("�" * 40, "doesn't look like a question"),
        ("¿Qué es la metástasis ósea y cómo se trata?", "only answer questions in English"),
        ("骨转移是什么", "only answer questions in English"),
        ("1234 5678 !!!", "doesn't look like a question"),
    ],
)
def test_bad_input_gets_a_clear_message(fake_assistant, question, message):
    answer = fake_assistant.ask(question)
    assert answer.abstained and message in answer.message
    assert answer.units == () and answer.disclaimer == DISCLAIMER


def test_html_and_script_are_read_as_plain_text(fake_assistant):
    assert clean_question("<b>what</b> is <script>alert(1)</script>zometa?") == "what is zometa?"
    answer = fake_assistant.ask("<script>alert('x')</script>what is zometa?")
    assert "script" not in answer.resolved_question and not answer.abstained


def test_non_string_question_is_a_value_error(fake_assistant):
    with pytest.raises(ValueError, match="must be a string"):
        fake_assistant.ask(None)


def test_bad_history_entries_are_skipped(fake_assistant):
    answer = fake_assistant.ask("what are its side effects?", ["", "\x00\x00\x00", "what is zometa?"])
    assert "zometa" in answer.resolved_question


def test_json_record_has_the_documented_fields(fake_assistant):
    record = fake_assistant.ask("what is a bisphosphonate?").to_json()
    assert {"question", "answer", "units", "abstained", "confidence", "urgent", "citations", "disclaimer"} <= set(record)
    assert {"n", "doc_id", "title", "publisher", "section", "quote"} <= set(record["citations"][0])
    assert all({"text", "citation"} <= set(u) for u in record["units"])


def test_abstentions_suggest_questions_the_sources_answer(fake_assistant):
    answer = fake_assistant.ask("how do I renew my passport?")
    assert answer.abstained and len(answer.suggestions) == 3
    questions, _ = fake_assistant.suggestions
    assert set(answer.suggestions) <= set(questions)


def test_urgent_advice_answers_an_urgent_question_nothing_else_fits(tiny_settings):
    from conftest import FakeEmbedder

    from qa.answering.assistant import Assistant

    strict = Assistant.load(tiny_settings.with_(abstain_below=0.99), embedder=FakeEmbedder())
    answer = strict.ask("my legs feel weak and numb")
    assert not answer.abstained and answer.units == ()
    assert answer.urgent is not None and "emergency room" in answer.text
    assert strict.ask("what is a bisphosphonate?").abstained  # not urgent: abstains as usual


def test_unit_tests_never_read_the_shipped_answer_model(fake_assistant):
    from qa.settings import DEFAULT_MODEL

    assert fake_assistant.settings.answer_model() != DEFAULT_MODEL
    assert fake_assistant.calibration.fitted_on == "fake"


def test_a_followup_prepares_and_searches_each_turn_once(tiny_settings, monkeypatch):
    from collections import Counter

    from conftest import FakeEmbedder

    import qa.language.question as question
    from qa.answering.assistant import Assistant
    from qa.language.terms import Vocabulary

    assistant = Assistant.load(tiny_settings, embedder=FakeEmbedder())
    calls: Counter = Counter()

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(question, "clean_question", counted("clean", question.clean_question))
    monkeypatch.setattr(Vocabulary, "fix_spelling", counted("spell", Vocabulary.fix_spelling))
    monkeypatch.setattr(assistant.retriever, "search", counted("search", assistant.retriever.search))
    monkeypatch.setattr(assistant.embedder, "encode_query", counted("embed", assistant.embedder.encode_query))

    first = assistant.ask("what are its side effects?", ["what is zometa?"])
    # Two turns, each once: the earlier question (read to know what was answered) and this one.
    assert first.resolved_question.endswith("zometa") and dict(calls) == {"clean": 2, "spell": 2, "search": 2, "embed": 2}
    calls.clear()
    assistant.ask("and how is it given?", ["what is zometa?", "what are its side effects?"])
    # The earlier turns were prepared and searched already: only the new one is.
    assert dict(calls) == {"clean": 1, "spell": 1, "search": 1, "embed": 1}
    calls.clear()
    assistant.forget()  # as the benchmark does: a new user's question, nothing kept
    assistant.ask("what are its side effects?", ["what is zometa?"])
    assert dict(calls) == {"clean": 2, "spell": 2, "search": 2, "embed": 2}


def test_replace_swaps_one_part_and_shares_the_rest(fake_assistant):
    from qa.answering.calibration import Calibration

    strict = fake_assistant.replace(calibration=Calibration(1.0, 0.0, 0.99, "strict"))
    assert strict.index is fake_assistant.index and strict.answer_model is fake_assistant.answer_model
    assert strict.ask("what is zometa?").abstained and not fake_assistant.ask("what is zometa?").abstained
    with pytest.raises(TypeError, match="no part named"):
        fake_assistant.replace(policy=None)


def test_without_a_turn_cache_a_question_is_still_embedded_once(tiny_settings, monkeypatch):
    # The benchmark runs with turn_cache=0: a cold question must cost one embedding, not two.
    from collections import Counter

    from conftest import FakeEmbedder

    from qa.answering.assistant import Assistant

    assistant = Assistant.load(tiny_settings.with_(turn_cache=0), embedder=FakeEmbedder())
    calls: Counter = Counter()
    encode = assistant.embedder.encode_query
    monkeypatch.setattr(assistant.embedder, "encode_query", lambda text: calls.update(["embed"]) or encode(text))
    assistant.ask("what is zometa?")
    assert calls["embed"] == 1


def test_a_follow_up_reuses_its_previous_turns_reading(fake_assistant):
    # In a conversation the earlier question was just answered: the follow-up
    # (which must know what was answered, to add to it) reads it no second time.
    from conftest import FakeReader

    reader = FakeReader()
    assistant = fake_assistant.replace(reader=reader)
    assistant.ask("what is zometa?")
    assert len(reader.calls) == 1
    warm = assistant.ask("what are its side effects?", ["what is zometa?"])
    assert len(reader.calls) == 2 and reader.calls[-1][0] == warm.resolved_question
    assistant.forget()  # nothing kept: the earlier question is read again, and the answer is the same
    cold = assistant.ask("what are its side effects?", ["what is zometa?"])
    assert len(reader.calls) == 4 and cold.to_json() == warm.to_json()


def test_a_follow_up_finds_its_previous_turns_reading_when_that_turn_was_misspelled(fake_assistant):
    # The earlier turn was read with what was typed ("zometta"), spelled for its
    # query; the follow-up looks that reading up by the same text, not the spelled one.
    from conftest import FakeReader

    reader = FakeReader()
    assistant = fake_assistant.replace(reader=reader)
    first = assistant.ask("what is zometta?")
    assert "zometa" in first.resolved_question and len(reader.calls) == 1
    assistant.ask("what are its side effects?", ["what is zometta?"])
    assert len(reader.calls) == 2


def _story_drowns_the_question(assistant, monkeypatch, marker):
    """Reading a message with its story finds nothing; its question alone is read as usual."""
    read = assistant.read

    def drowned(query, text, avoid=frozenset()):
        picks, confidence, vector = read(query, text, avoid)
        return (picks, 0.0, vector) if marker in text.lower() else (picks, confidence, vector)

    monkeypatch.setattr(assistant, "read", drowned)


def test_words_naming_no_topic_do_not_drown_the_one_question_after_them(fake_assistant, monkeypatch):
    _story_drowns_the_question(fake_assistant, monkeypatch, "67")
    for message in ("I'm 67. What are the side effects of zometa?", "My dad is 67, what are the side effects of zometa?"):
        answer = fake_assistant.ask(message)
        assert not answer.abstained and "headache" in answer.text, message
        assert answer.resolved_question.lower().startswith("what are the side effects of zometa"), answer.resolved_question


def test_a_story_that_names_a_topic_is_what_the_question_asks_about(fake_assistant, monkeypatch):
    # "I have lymphoedema. Can radiotherapy help?": read alone, the question would be about bone pain.
    _story_drowns_the_question(fake_assistant, monkeypatch, "tablets")
    answer = fake_assistant.ask("She forgot her tablets yesterday. What are the side effects of zometa?")
    assert answer.abstained
    _story_drowns_the_question(fake_assistant, monkeypatch, "67")
    answer = fake_assistant.ask("I'm 67 and on tamoxifen. What are the side effects of zometa?")
    assert answer.abstained and "tamoxifen" in answer.message


def test_thanks_is_thanked_back_never_answered_from_the_sources(fake_assistant):
    from qa.answering.policy import SOCIAL_REPLIES

    answer = fake_assistant.ask("thank you so much, that's really helpful!", ["what is zometa?"])
    assert answer.abstained and not answer.units and answer.urgent is None
    assert answer.message == SOCIAL_REPLIES["thanks"] and answer.disclaimer == DISCLAIMER
    questions, _ = fake_assistant.suggestions
    assert len(answer.suggestions) == 3 and set(answer.suggestions) <= set(questions)
    assert fake_assistant.ask("hello, can anyone help?").message == SOCIAL_REPLIES["greeting"]


def test_after_a_thanks_a_follow_up_leans_on_the_question_before_it(fake_assistant):
    prepared = fake_assistant.prepare("what are its side effects?", ["what is zometa?", "thanks"])
    assert prepared.earlier == ("what is zometa?",) and prepared.last_text == "what is zometa?"  # its answer is not repeated
    answer = fake_assistant.ask("what are its side effects?", ["what is zometa?", "thanks"])
    assert "zometa" in answer.resolved_question and "headache" in answer.text


def test_a_thanks_after_an_urgent_sign_still_brings_the_urgent_advice(fake_assistant):
    answer = fake_assistant.ask("ok thank you", ["my back hurts and my legs feel weak"])
    assert answer.urgent is not None and "emergency room" in answer.urgent.text


def test_a_long_post_is_read_by_its_questions_and_triage_reads_it_whole(fake_assistant, monkeypatch):
    """Read whole, a long post's start filled what the models read, and its question
    at the end was lost: past `long_message_words`, the answer is read from the
    story just before the question and the question; triage still reads it all."""
    import numpy as np

    story = "We had a lovely week by the sea with the grandchildren and the dog. " * 6
    message = story + "Then the nurse mentioned zometa at the clinic. What are its side effects?"
    assert len(message.split()) > fake_assistant.settings.long_message_words
    prepared = fake_assistant.prepare(message)
    # The two sentences before the question, and the question.
    assert prepared.focus.endswith("with the grandchildren and the dog. Then the nurse mentioned zometa at the clinic. What are its side effects?")
    assert len(prepared.focus.split()) < 40 and len(prepared.query.split()) > 80
    asked, seen = [], []
    read, assess = fake_assistant.read, fake_assistant.assess
    monkeypatch.setattr(fake_assistant, "read", lambda query, text, *rest: asked.append(query) or read(query, text, *rest))
    monkeypatch.setattr(fake_assistant, "assess", lambda p, vector: seen.append(vector) or assess(p, vector))
    fake_assistant.forget()
    answer = fake_assistant.ask(message)
    assert asked[0] == prepared.focus and "headache" in answer.text
    assert np.array_equal(seen[0], fake_assistant.embed(prepared.query))
    # A short message, or the setting at 0, reads the message whole.
    assert fake_assistant.prepare("The nurse mentioned zometa. What is that for?").focus == ""
    whole = fake_assistant.replace(settings=fake_assistant.settings.with_(long_message_words=0))
    assert whole.prepare(message).focus == ""


def test_a_long_post_is_answered_only_as_surely_as_its_surest_question(fake_assistant):
    """Read with the story before it, a question the sources lack was answered from
    the story's topic: dev's long posts that ask what the sources lack were answered
    at 0.80 to 0.99. Its question sentences, each read as a short question (the kind
    the confidence is calibrated on), say whether it is answered."""
    story = "We had a lovely week by the sea with the grandchildren and the dog. " * 6
    message = story + "Then the nurse mentioned zometa and its side effects at the clinic. Can we take the ferry to France in June?"
    prepared = fake_assistant.prepare(message)
    assert fake_assistant.read(prepared.focus, prepared.focus)[1] >= fake_assistant.threshold  # the story's topic alone
    (part, _, sureness), = fake_assistant._part_readings(prepared)
    assert part.text == "Can we take the ferry to France in June?" and sureness < fake_assistant.threshold
    answer = fake_assistant.ask(message)
    assert answer.abstained and answer.confidence == pytest.approx(sureness)
    assert answer.unanswered == ("Can we take the ferry to France in June?",)  # shown: the question it found
    # Its question answered: as sure as that question (or the post, were it less sure).
    answered = fake_assistant.ask(story + "Then the nurse mentioned zometa at the clinic. What are its side effects?")
    assert not answered.abstained and "headache" in answered.text


def test_a_refused_long_post_names_only_the_words_its_questions_use(fake_assistant):
    """The refusal named the story's words ("they don't mention machinist, lupron")
    where the question asked about another drug, and a word twice where the question used it twice."""
    story = "My husband worked as a machinist for thirty years before he retired to the coast. " * 5
    message = story + "His oncologist started keytruda last month. Is keytruda safe with xofigo, or should keytruda be stopped first?"
    answer = fake_assistant.ask(message)
    assert answer.abstained
    assert "they don't mention keytruda, xofigo)" in answer.message and "machinist" not in answer.message


def test_a_comparison_reads_each_thing_it_compares(fake_assistant, monkeypatch):
    """No sentence compares the two, so the question read whole may find none that
    answers; each is read on its own too, and each one's best unit can join the answer."""
    message = "whats the difference between zometa and high calcium"
    assert fake_assistant.prepare(message).parts == ("what is zometa?", "what is high calcium?")
    read, asked = fake_assistant.read, []

    def recording(query, text, *rest):
        asked.append(text)
        return read(query, text, *rest)

    monkeypatch.setattr(fake_assistant, "read", recording)
    answer = fake_assistant.ask(message)
    assert {"what is zometa?", "what is high calcium?"} <= set(asked)
    assert "Zometa is a bisphosphonate" in " ".join(u.text for u in answer.units)


def test_a_thing_compared_that_the_sources_lack_is_named_plainly(fake_assistant):
    """"whats the difference between zometa and a passport" asks "what is a passport?",
    words the user never wrote: the line names the thing rather than quoting them."""
    answer = fake_assistant.ask("whats the difference between zometa and a passport")
    assert "Zometa is a bisphosphonate" in answer.text
    assert answer.unanswered_lines == ("The sources don't say what a passport is.",)
    # Asked in those words, it is quoted as asked.
    asked = fake_assistant.ask("What are the side effects of Zometa? what is keytruda?")
    assert asked.unanswered_lines == ("The sources don't answer this part of your message: “what is keytruda?”",)

"""The real assistant: real corpus, the trained model shipped in models/. One
shared instance (session fixture) keeps this file to a few seconds after the build."""

import re

import pytest

pytestmark = pytest.mark.slow

# (question, history, a fact the answer must contain: regex, case-insensitive). The fact
# never repeats the question's words, so an echo of the question cannot pass.
ANSWERED = [
    ("what is xgeva?", [], r"denosumab"),
    ("what are its side effects?", ["what is zometa?"], r"headache|tiredness|nausea|fever"),
    ("is bone mets cancer curable", [], r"treatable"),
    ("which cancers usually spread to the bones?", [], r"breast|prostate|lung"),
    ("and for breast cancer?", ["which bones do bone metastases usually affect?"], r"spine|ribs|pelvis"),
    ("what is vertebroplasty", [], r"cement"),
    ("how do doctors find out if cancer spread to bone", [], r"scans|x-rays|mri"),
    ("does bone metastasis pain get worse at night?", [], r"better with movement|bed rest"),
    ("how is it treated?", ["what is hypercalcemia?"], r"fluids|bisphosphonate|zoledronic|pamidronate"),
    ("what can i eat to keep my bones strong", [], r"calcium|vitamin d"),
    ("how can I avoid falling at home?", [], r"shoes|rugs|grab bars|handrails|walkers"),
    ("what is osteonecrosis of the jaw from zometa?", [], r"bone death|dental|tooth"),
    ("whats radiation therapy do for bone mets", [], r"relieve|x-rays|slow"),
    ("how many radiation sessions will i need", [], r"five to 10|about 10|1 or 2"),
    ("metastisis in the spine what happens", [], r"spinal cord|paraly|compress"),
    ("what is a dexa scan", [], r"bone density|x-rays"),
    # A short story before the question once drowned it ("I'm 67. What is zometa?" was refused).
    ("I'm 67. What is zometa?", [], r"bisphosphonate|breakdown of bone|zoledron"),
    ("I'm 67, what is zometa?", [], r"bisphosphonate|breakdown of bone|zoledron"),
]
ABSTAINED = [
    ("how do I renew my passport?", []),
    ("what's the best recipe for lasagna?", []),
    ("what is the dose of tamoxifen for lupus?", []),
    ("will it snow in denver this weekend?", []),
]
URGENT = [
    ("my husband has back pain and suddenly his legs are weak and numb", "spinal cord compression"),
    ("mom is very confused and extremely thirsty all the time", "calcium"),
    ("i felt a sudden severe pain in my thigh bone, is it broken?", "fracture"),
]


def _check_verbatim(assistant, answer):
    for unit in list(answer.units) + ([answer.urgent] if answer.urgent else []):
        citation = answer.citations[unit.citation - 1]
        assert unit.text in citation.quote
        raw = (assistant.settings.corpus_dir / citation.file).read_text(encoding="utf-8")
        assert raw[citation.span.start : citation.span.end] == citation.quote


@pytest.mark.parametrize("question, history, fact", ANSWERED)
def test_answers_hold_the_fact_verbatim_and_cited(assistant, question, history, fact):
    answer = assistant.ask(question, history)
    assert not answer.abstained, answer.message
    assert re.search(fact, answer.text, re.I), answer.text
    assert 1 <= len(answer.units) <= 3
    _check_verbatim(assistant, answer)


@pytest.mark.parametrize("question, history", ABSTAINED)
def test_off_topic_and_uncovered_questions_abstain(assistant, question, history):
    answer = assistant.ask(question, history)
    assert answer.abstained, answer.text
    assert answer.units == ()


@pytest.mark.parametrize("question, topic", URGENT)
def test_urgent_symptoms_surface_the_sources_advice(assistant, question, topic):
    answer = assistant.ask(question)
    assert answer.urgent is not None
    assert re.search(r"emergency|right away|immediately", answer.urgent.text, re.I)
    _check_verbatim(assistant, answer)


def test_history_does_not_change_a_standalone_question(assistant):
    alone = assistant.ask("what are the side effects of xgeva?")
    after = assistant.ask("what are the side effects of xgeva?", ["what is vertebroplasty?"])
    assert alone.text == after.text


def test_compilation_articles_are_cited_by_their_own_publisher(assistant):
    answer = assistant.ask("what does breast cancer now say about support for living with secondary breast cancer")
    publishers = {c.publisher for c in answer.citations}
    assert "Breast Cancer Now" in publishers


def test_every_suggested_question_is_answered(assistant):
    questions, _ = assistant.suggestions
    for question in questions:
        answer = assistant.ask(question)
        assert not answer.abstained, question


def test_the_shipped_trained_model_is_the_default(assistant):
    from qa.settings import DEFAULT_MODEL

    assert assistant.settings.embedding_model() == DEFAULT_MODEL
    assert assistant.index.manifest["model"]["name"] == DEFAULT_MODEL.name


def test_a_long_message_is_answered_on_its_question(assistant):
    message = (
        "My father is 65 and was diagnosed with prostate cancer three years ago. Last month the doctors told us "
        "it has spread to his bones and he has a lot of pain in his hip at night. We are all very worried. "
        "What treatments can help with the bone pain?"
    )
    answer = assistant.ask(message)
    assert not answer.abstained, answer.message
    # Answered on its question (treating bone pain), not on the story (prostate cancer, his age).
    assert re.search(r"radiation|ablation|relief|pain medicines", answer.text, re.I), answer.text
    _check_verbatim(assistant, answer)


def test_a_long_post_asking_only_what_the_sources_lack_is_refused(assistant):
    # Read with its story (prostate cancer, radiotherapy, work), it was answered with
    # the sources' list of questions to ask the doctor at 0.77.
    post = (
        "Hello all. My husband was told in January that his prostate cancer has spread to his pelvis and two vertebrae. "
        "He has hormone injections and had a single dose of radiotherapy to his hip which took the pain away within a fortnight. "
        "He is still working three days a week at the garden centre and his boss has been very understanding so far. "
        "He is sixty-four and had planned to retire next year anyway. What we cannot work out is the money side. "
        "Can he claim his works pension early on health grounds, and does that affect his state benefits? "
        "We have an appointment with the Macmillan adviser but not for a month."
    )
    assert len(post.split()) > assistant.settings.long_message_words
    answer = assistant.ask(post)
    assert answer.abstained and not answer.units, answer.text


def test_a_word_the_sources_never_use_is_no_reason_to_refuse(assistant):
    answer = assistant.ask("my mums tumours have spread to her spine, how do they treat bone mets")
    assert not answer.abstained, answer.message


def test_text_message_spelling_is_answered_as_the_written_out_question(assistant):
    # "iz" was read as a word the sources never use: refused at 0.39 where "is" gave 0.87.
    texted, written = assistant.ask("wat iz xgeva"), assistant.ask("what is xgeva")
    assert not texted.abstained, texted.message
    assert texted.units[0].text == written.units[0].text


def test_a_story_naming_one_drug_is_answered_about_the_treatment_it_asks_about(assistant):
    answer = assistant.ask(
        "My mum's breast cancer has spread to her spine. The oncologist has started her on letrozole and wants her "
        "to have an infusion every few weeks to protect her bones. She is terrified of the jaw thing she read about "
        "online. What is this infusion and does everyone get jaw problems from it?")
    assert not answer.abstained, answer.message
    assert re.search(r"bisphosphonate|zoledronic|zometa", answer.text, re.I), answer.text
    _check_verbatim(assistant, answer)


def test_a_two_part_message_gets_a_unit_for_each_part(assistant):
    answer = assistant.ask("My wife has bone mets from breast cancer. What is Xgeva? And what is vertebroplasty?")
    assert not answer.abstained, answer.message
    assert re.search(r"denosumab", answer.text, re.I) and re.search(r"vertebroplasty", answer.text, re.I), answer.text
    alone = assistant.ask("What is Xgeva? And what is vertebroplasty?")
    assert not re.search(r"vertebroplasty", assistant.ask("What is Xgeva?").text, re.I)  # the second part adds it
    assert re.search(r"vertebroplasty", alone.text, re.I), alone.text
    assert len(answer.units) <= 3


def test_a_story_s_joined_questions_each_lean_on_the_drug_the_story_names(assistant):
    """"...mentioned denosumab injections. What does that do and does it have
    side effects?": the second part is answered with denosumab's side effects."""
    answer = assistant.ask("My mum's breast cancer came back in her spine last month. We are all in shock. "
                           "The oncologist mentioned something called denosumab injections. "
                           "What does that actually do and does it have side effects?")
    assert not answer.abstained, answer.message
    assert re.search(r"denosumab|xgeva", answer.units[0].text, re.I), answer.text
    assert any("side effects" in u.text for u in answer.units), answer.text
    _check_verbatim(assistant, answer)


def test_a_story_s_part_the_sources_do_not_answer_is_named_and_the_other_kept(assistant):
    """"...mentioned zometa. how is it given and does it make your hair fall
    out?": the sources say nothing on hair; the reply says so plainly, quotes
    nothing about hair, and answers the other part about Zometa itself.

    Whether that part quotes "...are given intravenously" is not asserted: the
    reader ranks it (logit 2.8) below "...such as Aredia and Zometa help prevent
    the breakdown of bone" (4.8), because the drug is named only in the sentence
    after it and the reader sees the one before. It was quoted on the machine this
    test was written on and is not on an AVX2 one: a shortfall of the reader."""
    answer = assistant.ask("my husband has prostate cancer in his bones. the oncologist mentioned zometa. "
                           "how is it given and does it make your hair fall out?")
    assert not answer.abstained, answer.message
    assert re.search(r"zometa|zoledron", answer.units[0].text, re.I), answer.text
    assert not any(re.search(r"\bhair\b", u.text, re.I) for u in answer.units), answer.text
    assert [part for part in answer.unanswered if "hair" in part], answer.unanswered
    assert not [part for part in answer.unanswered if "given" in part], answer.unanswered
    _check_verbatim(assistant, answer)


@pytest.mark.parametrize("question, history, fact", ANSWERED)
def test_no_fact_repeats_its_question(question, history, fact):
    import re as _re

    asked = " ".join([question, *history]).lower()
    assert not any(_re.search(alternative, asked, _re.I) for alternative in fact.split("|")), fact


# Urgent signs in people's own words, and messages that only touch the topic
# (written for this test, not taken from train/triage/).
SIGNS_NOW = [
    ("since this morning my legs feel like lead and I nearly fell on the stairs, I have cancer in my spine", []),
    ("my mum has bone mets and today she is so thirsty and muddled, and she keeps being sick", []),
    ("I heard a crack in my upper arm lifting the kettle and now I can't move it. I have myeloma", []),
    ("and now he says he can't feel his feet", ["my husband has prostate cancer in his spine"]),
]
TOPIC_ONLY = [
    "what is hypercalcaemia?",
    "what does 'spinal cord compression' mean on my letter?",
    "I had cord compression last year and I'm walking fine now, can I exercise?",
    "how do doctors treat high calcium?",
]


@pytest.mark.parametrize("message, history", SIGNS_NOW)
def test_a_sign_happening_now_in_plain_words_brings_the_red_box(assistant, message, history):
    answer = assistant.ask(message, history)
    assert answer.urgent is not None, answer.text
    _check_verbatim(assistant, answer)


@pytest.mark.parametrize("message", TOPIC_ONLY)
def test_a_definition_or_past_event_gets_the_calm_note_not_the_red_box(assistant, message):
    answer = assistant.ask(message)
    assert answer.urgent is None, answer.urgent


def test_a_message_longer_than_the_reader_reads_is_answered(assistant):
    # Over the reader's 128 tokens on its own: the pair is cut from its longer side, never refused.
    message = "my mother is very thirsty and confused and drinking so much water " * 12 + "what should we do?"
    answer = assistant.ask(message[:2000])
    assert answer.urgent is not None and "calcium" in (answer.urgent.text + answer.text).lower()
    _check_verbatim(assistant, answer)


def test_a_follow_up_asks_about_what_was_asked_not_the_story_around_it(assistant):
    answer = assistant.ask("what are its side effects?", ["I'm 67 and on tamoxifen, what is zometa?"])
    assert "zometa" in answer.resolved_question and "tamoxifen" not in answer.resolved_question
    assert re.search(r"headache|tiredness|nausea|fever", answer.text, re.I), answer.text
    # Not the over-the-counter painkillers' side effects, which "67 tamoxifen" once brought in.
    assert "prescription" not in answer.text, answer.text


def test_the_shipped_texts_are_known_to_the_calibration_so_their_confidence_is_shown_as_fitted(assistant):
    # Their fingerprints were recorded by `qa calibrate`: a change to cleaning or
    # splitting that alters them would lower every answer's confidence shown.
    assert assistant.familiar == {chunk.doc_id for chunk in assistant.index.chunks}
    assert assistant.calibration.unseen_offset < 0
    answer = assistant.ask("what is zometa?")
    assert answer.confidence > assistant.calibration.shown(answer.confidence, familiar=False)

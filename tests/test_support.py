"""Kinder refusals (issue 21, item 6): one sentence, and for how-long / how-to-cope
questions the care team and the support lines the sources name, quoted and cited."""

import re

import pytest
from conftest import FakeEmbedder

from qa.answering.support import asks_about_outlook
from qa.apps.chat import render_answer, to_plain

# Our own words: a small leaflet that names a support line with its number.
SUPPORT_DOC = """# Living With Bone Metastases

## Feelings

Many people feel worried after the news, and talking helps.
Ring the Example Support Helpline on 0800 123 4567 to talk with a nurse.
"""


@pytest.fixture
def support_assistant(tiny_settings, tiny_corpus):
    from qa.answering.assistant import Assistant

    (tiny_corpus / "living.md").write_text(SUPPORT_DOC, encoding="utf-8")
    return Assistant.load(tiny_settings.with_(abstain_below=0.99), embedder=FakeEmbedder())


def sentences(text: str) -> int:
    return len(re.findall(r"[.!?](\s|$)", text))


@pytest.mark.parametrize("question", ["how do I renew my passport?", "what are the side effects of keytruda?",
                                      "how much does zometa cost?"])
def test_a_refusal_is_one_sentence_that_points_to_the_care_team(support_assistant, question):
    answer = support_assistant.ask(question)
    assert answer.abstained and sentences(answer.message) == 1, answer.message
    assert "don't cover this question" in answer.message and "care team" in answer.message
    assert answer.support == ()  # not an outlook question: no support lines


@pytest.mark.parametrize("question", ["how long do I have to live?", "what is my life expectancy now",
                                      "I'm so scared, how do I cope?"])
def test_an_outlook_question_points_to_the_care_team_and_the_support_lines_the_sources_name(support_assistant, question):
    assert asks_about_outlook(question)
    answer = support_assistant.ask(question)
    assert answer.abstained and sentences(answer.message) == 1 and "care team" in answer.message
    assert [u.text for u in answer.support] == ["Ring the Example Support Helpline on 0800 123 4567 to talk with a nurse."]
    cited = answer.citations[answer.support[0].citation - 1]
    assert cited.file == "living.md" and answer.support[0].text in cited.quote  # quoted and cited, verbatim
    html = render_answer(answer)
    assert "Support lines the sources name:" in html and "0800 123 4567" in html and f"[{cited.n}]</a>" in html
    assert "Support lines the sources name:\n- Ring the Example Support Helpline" in to_plain(answer)
    assert answer.to_json()["support"] == [f"Ring the Example Support Helpline on 0800 123 4567 to talk with a nurse. [{cited.n}]"]


def test_questions_the_sources_answer_are_not_taken_for_outlook_questions():
    assert not asks_about_outlook("what is zometa?") and not asks_about_outlook("how is bone pain managed?")


def test_fear_without_a_question_of_how_things_will_go_gets_the_plain_refusal_and_the_support_lines(support_assistant):
    answer = support_assistant.ask("I'm so scared of needles. How do I renew my passport?")
    assert answer.abstained and "care team" in answer.message
    assert "how things will go" not in answer.message, answer.message  # fear is not a prognosis question
    assert answer.support  # the support lines still come with it
    assert "how things will go" in support_assistant.ask("how long do I have to live?").message

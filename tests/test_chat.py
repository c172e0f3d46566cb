"""The chat stage (qa/apps/chat.py) on the fake assistant: HTML, escaping, notices,
abstentions, and feedback lines that survive."""

import json
import os
import re
from dataclasses import replace

import pytest

from qa.answering.safety import DISCLAIMER
from qa.apps.chat import (
    FeedbackError,
    body_units,
    confidence_words,
    marked_quote,
    prepare_message,
    record_feedback,
    render_answer,
    render_error,
    render_question,
    to_plain,
)
from qa.data import Answer, AnswerUnit, Citation, Span
from qa.settings import MAX_QUESTION_CHARS

XSS = "<script>window.__xss=1</script>"


def _answer(unit_text: str, quote: str, title: str = "Title", **changes) -> Answer:
    citation = Citation(1, "doc", title, "Publisher", "Section", quote, Span(0, len(quote)), "doc.txt")
    answer = Answer("q", (AnswerUnit(unit_text, 1, 1.0),), (citation,), False, 0.9, DISCLAIMER)
    return replace(answer, **changes)


def test_user_text_is_escaped_and_kept_as_typed():
    html = render_question(f"is {XSS} safe?\nsecond line")
    assert "<script" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "<br>second line" in html


def test_corpus_text_is_escaped_everywhere():
    evil = '<img src=x onerror="alert(1)"> & co'
    answer = _answer(evil, f"Before. {evil} After.", title=f"<b>{evil}</b>", question=XSS)
    html = render_answer(answer)
    assert "<img" not in html and "<b>" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in html
    assert "\n\n" not in html  # one HTML block: Markdown never reads the text


def test_answer_html_has_cited_units_sources_and_marks(fake_assistant):
    answer = fake_assistant.ask("what is a bisphosphonate?")
    assert not answer.abstained
    html = render_answer(answer)
    assert html.count('<a class="qa-ref" href="#source-1">[1]</a>') == len(answer.units) >= 1
    assert html.count('<summary><span class="qa-num">[1]</span>') == 1  # what each [1] opens
    assert html.count("<details") == len(answer.citations)
    assert "Bone Health Basics — Example Clinic · What is a bisphosphonate?" in html
    marks = re.findall(r"<mark>(.*?)</mark>", html)
    assert "Zometa is a bisphosphonate given by IV." in marks
    assert confidence_words(answer.confidence).capitalize() in html
    assert html.index("qa-units") < html.index("qa-sources") < html.index("qa-disclaimer")


def test_follow_up_answer_keeps_list_lines(fake_assistant):
    answer = fake_assistant.ask("what are its side effects?", ["what is zometa?"])
    html = render_answer(answer)
    assert "include:<br>• headache<br>• muscle aches" in html


def test_urgent_notice_comes_first_and_says_urgent(fake_assistant):
    answer = fake_assistant.ask("my back hurts and my legs are weak and numb")
    assert answer.urgent is not None
    html = render_answer(answer, note="a note")
    assert html.index('class="qa-urgent"') < html.index("qa-note") < html.index("qa-units")
    assert re.search(r"<strong>⚠ Urgent</strong>", html)
    assert "Call your doctor or go to the emergency room right away" in html
    assert to_plain(answer).startswith("URGENT: Call your doctor")


def test_unit_repeating_the_urgent_advice_is_not_shown_twice():
    advice = AnswerUnit("Call your doctor\nright away.", 1, 1.0)
    other = AnswerUnit("Back pain can mean compression.", 2, 0.8)
    answer = _answer("x", "x", urgent=advice)
    twice = replace(answer, units=(other, AnswerUnit("Call your doctor right away.", 2, 0.7)))
    assert body_units(twice) == [other]
    units_html = render_answer(twice).split('class="qa-units"')[1].split("</p>")[0]
    assert "Call your doctor" not in units_html and "compression" in units_html
    only = replace(answer, units=(advice,))
    assert body_units(only) == [advice]  # never an empty answer


@pytest.mark.parametrize(
    "question",
    ["what is zometa?", "how do I renew my passport?", "", "x" * 3000, XSS, "my legs are weak and numb"],
)
def test_disclaimer_is_always_there(fake_assistant, question):
    answer = fake_assistant.ask(question)
    assert f'<p class="qa-disclaimer"><small>{DISCLAIMER}</small></p>' in render_answer(answer)
    assert to_plain(answer).endswith(DISCLAIMER)


def test_abstention_says_not_covered_and_offers_suggestions(fake_assistant):
    answer = fake_assistant.ask("how do I renew my passport?")
    assert answer.abstained and answer.suggestions
    html = render_answer(answer)
    assert "don&#x27;t cover this question" in html and "care team" in html
    assert "qa-units" not in html and "confidence" not in html
    for suggestion in answer.suggestions:
        assert f"<li>{suggestion}</li>" in html
    buttons = render_answer(answer, list_suggestions=False)
    assert "<li>" not in buttons and "select one to ask it" in buttons
    plain = to_plain(answer)
    assert all(f"- {s}" in plain for s in answer.suggestions)


def test_a_refused_long_post_shows_the_questions_found_in_it():
    """A refused post of 300 words: the user sees which of its sentences were read as its questions."""
    answer = replace(_answer("x", "x"), abstained=True, units=(), citations=(), message="Sorry, not covered.",
                     unanswered=("Can he claim his pension early?", "Is <that> taxed?"))
    html = render_answer(answer)
    assert html.index("Sorry, not covered.") < html.index("Can he claim his pension early?")
    assert "&lt;that&gt;" in html and "<that>" not in html
    plain = to_plain(answer)
    assert "Sorry, not covered." in plain and "“Can he claim his pension early?”" in plain
    from qa.apps.cli import format_answer

    assert "“Can he claim his pension early?”" in format_answer(answer)


def test_suggestions_are_escaped():
    answer = replace(_answer("x", "x"), abstained=True, units=(), citations=(), message="No.", suggestions=(XSS,))
    assert "<li>&lt;script&gt;" in render_answer(answer)


def test_marked_quote_marks_every_cited_text_and_merges_overlaps():
    quote = "A <b> one. Two & three.\n• four"
    html = marked_quote(quote, ["<b> one.", "one. Two", "• four"])
    assert html == "A <mark>&lt;b&gt; one. Two</mark> &amp; three.<br><mark>• four</mark>"
    assert marked_quote("plain", []) == "plain"


def test_confidence_in_words():
    assert confidence_words(0.95) == "high confidence"
    assert confidence_words(0.7) == "medium confidence"
    assert confidence_words(0.45) == "low confidence"


def test_prepare_message_strips_and_cuts_with_a_note():
    assert prepare_message("  hi  ") == ("hi", "")
    assert prepare_message(None) == ("", "")
    text, note = prepare_message("a" * (MAX_QUESTION_CHARS + 500))
    assert len(text) == MAX_QUESTION_CHARS  # one endless "word" is cut at the limit
    assert "2,500 characters" in note and "first 2,000" in note


def test_a_long_message_is_never_cut_mid_word():
    words = "my mother is very thirsty and confused since her treatment "
    message = (words * 60).strip()
    assert len(message) > 3000
    text, note = prepare_message(message)
    assert len(text) <= MAX_QUESTION_CHARS and message.startswith(text)
    assert message[len(text)] == " "  # the next character is a space: the last word is whole
    assert text.split()[-1] in words.split() and "last whole word" in note
    exact = "x" * (MAX_QUESTION_CHARS - 5) + " word more"  # a space right after the limit
    assert prepare_message(exact)[0] == "x" * (MAX_QUESTION_CHARS - 5) + " word"


def test_error_reply_is_a_short_apology():
    html = render_error(note=XSS)
    assert "Sorry, something went wrong" in html and "<script" not in html


# --- feedback ---------------------------------------------------------------


def test_feedback_appends_durable_lines_and_keeps_earlier_ones(fake_assistant, tmp_path, monkeypatch):
    path = tmp_path / "fb" / "feedback.jsonl"
    path.parent.mkdir()
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    first = fake_assistant.ask("what is zometa?")
    second = fake_assistant.ask("what are its side effects?", ["what is zometa?"])
    record_feedback(path, "what is zometa?", first, "up")
    record_feedback(path, "what are its side effects?", second, "down", "hard", "too many long words")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[0]) == {"earlier": True}
    one, two = json.loads(lines[1]), json.loads(lines[2])
    assert one["vote"] == "up" and one["question"] == "what is zometa?" and one["reason"] is None
    assert one["answer"] == first.text
    assert one["citations"][0]["title"] == "Bone Health Basics"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", one["time"])
    assert two["vote"] == "down" and (two["reason"], two["reason_text"]) == ("hard", "too many long words")
    assert len(synced) >= 2


def test_a_feedback_line_holds_the_question_and_answer_and_nothing_else_of_the_conversation(fake_assistant, tmp_path):
    """The footer says a vote saves the question, the answer with its sources and the reason: nothing more."""
    answer = fake_assistant.ask("what are its side effects?", ["I am 67, what is zometa?"])
    record = record_feedback(tmp_path / "f.jsonl", "what are its side effects?", answer, "down", "wrong")
    assert set(record) == {"time", "vote", "reason", "reason_text", "question", "answer", "abstained", "confidence",
                           "urgent", "citations"}
    assert "67" not in json.dumps(record)


def test_feedback_creates_the_folder(fake_assistant, tmp_path):
    path = tmp_path / "new" / "deeper" / "feedback.jsonl"
    record_feedback(path, "q", fake_assistant.ask("what is zometa?"), "up")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_feedback_to_a_directory_raises_a_clear_error(fake_assistant, tmp_path):
    answer = fake_assistant.ask("what is zometa?")
    with pytest.raises(FeedbackError, match=r"could not save feedback to .*feedback"):
        record_feedback(tmp_path, "q", answer, "up")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeedbackError, match="could not save feedback"):
        record_feedback(blocker / "feedback.jsonl", "q", answer, "up")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write read-only files")
def test_feedback_to_a_read_only_file_raises(fake_assistant, tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text("")
    path.chmod(0o444)
    with pytest.raises(FeedbackError, match="could not save feedback"):
        record_feedback(path, "q", fake_assistant.ask("what is zometa?"), "up")


def test_feedback_vote_must_be_up_or_down(fake_assistant, tmp_path):
    with pytest.raises(ValueError, match="up"):
        record_feedback(tmp_path / "f.jsonl", "q", fake_assistant.ask("what is zometa?"), "meh")
    assert not (tmp_path / "f.jsonl").exists()


def test_a_source_links_its_original_page_only_when_known():
    url = "https://www.example.org/bone-health/"
    linked = render_answer(_answer("x", "x", citations=(Citation(1, "d", "T", "P", "S", "x", Span(0, 1), "d.txt", url=url),)))
    assert (
        '<p class="qa-link">Original page: <a href="https://www.example.org/bone-health/" target="_blank" '
        'rel="noopener noreferrer">example.org/bone-health</a></p>'
    ) in linked
    assert "qa-link" not in render_answer(_answer("x", "x")) and "href=\"http" not in render_answer(_answer("x", "x"))
    evil = 'https://example.org/"><script>x</script>'
    html = render_answer(_answer("x", "x", citations=(Citation(1, "d", "T", "P", "S", "x", Span(0, 1), "d.txt", url=evil),)))
    assert "<script" not in html and '&quot;&gt;' in html


def test_feedback_from_an_answer_kept_in_the_browser(fake_assistant, tmp_path):
    """After a reload the chat only has the answer's JSON: the line is the same."""
    answer = fake_assistant.ask("what is zometa?")
    path = tmp_path / "f.jsonl"
    record_feedback(path, "what is zometa?", answer, "up")
    record_feedback(path, "what is zometa?", json.loads(json.dumps(answer.to_json())), "up")
    one, two = [json.loads(line) for line in path.read_text().splitlines()]
    one.pop("time"), two.pop("time")
    assert one == two and one["answer"] == answer.text


def test_a_long_story_keeps_its_questions_at_the_end():
    story = "My dad was diagnosed with prostate cancer four years ago and had hormone treatment. " * 30
    message = story + "Now the scan shows it is in his spine. What is bone metastasis? And how is it treated?"
    assert len(message) > MAX_QUESTION_CHARS
    text, note = prepare_message(message)
    assert len(text) <= MAX_QUESTION_CHARS and text.startswith("My dad was diagnosed")
    assert text.endswith("What is bone metastasis? And how is it treated?") and "its questions at the end" in note


def test_a_run_in_label_is_bold_and_the_text_stays_verbatim():
    text = "Spinal cord compression When cancer spreads to the bones of the spine, it can press on the spinal cord."
    html = render_answer(_answer(text, text))
    assert '<strong class="qa-label">Spinal cord compression</strong> When cancer spreads' in html
    assert re.sub(r"<[^>]+>", "", html).count(text) >= 1  # the words themselves unchanged

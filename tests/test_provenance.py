"""Dates and provenance on screen (issue 20, item 7): the review date beside
each source, a plain note on sources older than the configured age, a "read
the full page" link beside a source with an address, and who wrote the sources."""

from __future__ import annotations

import datetime
import json

import pytest

from conftest import FakeEmbedder
from qa.answering.citations import age_note
from qa.data import Citation, Span
from qa.settings import Settings

THIS_YEAR = datetime.date.today().year


def _citation(n: int, reviewed: str | None, url: str | None = None) -> Citation:
    return Citation(n, "d", "Title", "Publisher", "Section", "quote", Span(0, 5), "f.txt", url=url, reviewed=reviewed)


def test_the_review_year_is_read_from_the_date_as_written():
    assert _citation(1, "September 14, 2011").reviewed_year == 2011
    assert _citation(1, "02/07/2014").reviewed_year == 2014
    assert _citation(1, "2019-03").reviewed_year == 2019
    assert _citation(1, None).reviewed_year is None and _citation(1, "recently").reviewed_year is None


def test_only_sources_older_than_the_age_get_the_note():
    old, recent, unknown = _citation(1, "2011"), _citation(2, "March 2024"), _citation(3, None)
    assert age_note([recent, unknown], 5, 2026) == ""
    note = age_note([old, recent, unknown], 5, 2026)
    assert note.startswith("This source was last reviewed more than 5 years ago ([1] in 2011)")
    assert "check with your care team" in note
    assert "These sources were" in age_note([old, _citation(2, "2014")], 5, 2026)
    assert age_note([old], 20, 2026) == ""  # the age is a setting
    with pytest.raises(ValueError, match="source_age_years"):
        Settings(source_age_years=0)


@pytest.fixture
def dated_assistant(tiny_settings):
    from qa.answering.assistant import Assistant

    metadata = tiny_settings.corpus_dir / "metadata.toml"
    metadata.write_text(
        metadata.read_text(encoding="utf-8").replace(
            'publisher = "Example Clinic"\n\n',
            f'publisher = "Example Clinic"\nreviewed = "September 14, 2011"\nurl = "https://example.org/bone-health"\n\n', 1),
        encoding="utf-8",
    )
    return Assistant.load(tiny_settings, embedder=FakeEmbedder())


def test_the_date_the_old_source_note_and_the_full_page_link_are_shown(dated_assistant):
    from qa.apps.chat import render_answer, to_plain
    from qa.apps.cli import format_answer

    answer = dated_assistant.ask("what are the side effects of zometa?")
    cited = answer.citations[answer.units[0].citation - 1]
    assert cited.reviewed == "September 14, 2011" and cited.url == "https://example.org/bone-health"
    html = render_answer(answer)
    assert "Bone Health Basics — Example Clinic" in html and "· reviewed 2011</summary>" in html
    # The link stands beside the source, outside its collapsible summary.
    assert (f'</details><p class="qa-link qa-full-page"><a href="https://example.org/bone-health" target="_blank" '
            f'rel="noopener noreferrer">Read the full page [{cited.n}]: example.org/bone-health</a></p>') in html
    assert f"([{cited.n}] in 2011): some details may have changed" in html
    assert "some details may have changed" not in render_answer(answer, source_age_years=THIS_YEAR - 2011)
    terminal = format_answer(answer, width=300)
    assert ', reviewed 2011' in terminal and "read the full page: https://example.org/bone-health" in terminal
    assert "last reviewed more than 5 years ago" in terminal
    assert "reviewed 2011" in to_plain(answer) and "last reviewed more than 5 years ago" in to_plain(answer)
    record = json.loads(json.dumps(answer.to_json()))
    assert record["citations"][cited.n - 1]["reviewed"] == "September 14, 2011"


def test_the_welcome_names_who_wrote_the_sources():
    from qa.apps.chat import sources_line

    assert sources_line(["WebMD", "American Cancer Society", "WebMD"]) == (
        "**The sources** are patient-education pages from American Cancer Society and WebMD.")
    assert sources_line(["your own document", "OncoLink"]) == (
        "**The sources** are patient-education pages from OncoLink and this clinic's own documents.")
    assert sources_line([]) == ""


def test_the_chat_uses_the_configured_age(dated_assistant, tmp_path):
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT))
    import app

    for age, shown in ((5, True), (THIS_YEAR - 2011, False)):
        h = app.Handlers(dated_assistant, tmp_path / "f.jsonl", source_age_years=age)
        chat, *_ = h.respond("what are the side effects of zometa?", [], [], [])
        assert ("some details may have changed" in chat[-1]["content"]) is shown
        assert ("some details may have changed" in h.chat_api("what are the side effects of zometa?")) is shown

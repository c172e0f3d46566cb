"""The chat stage: an Answer as chat HTML or plain text, and durable feedback.

Every piece of text from the user or the corpus is HTML-escaped here, so what
anyone types (or a source happens to contain) is shown as text, never run.
The HTML is written on one line with no blank lines, so the chat's Markdown
renderer passes it through as one HTML block and never reads `*`, `_` or `[x](y)`
inside quotes or questions as formatting.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from qa.answering.calibration import HIGH_CONFIDENCE
from qa.answering.citations import age_note
from qa.data import Answer, AnswerUnit, Citation
from qa.errors import QAError
from qa.files import fsync_dir
from qa.language.message import shorten
from qa.language.terms import run_in_label
from qa.language.text import normalise_text
from qa.settings import MAX_QUESTION_CHARS, SOURCE_AGE_YEARS

MEDIUM_CONFIDENCE = 0.6
APOLOGY = (
    "Sorry, something went wrong on our side while answering that. "
    "Please try again, or ask another question."
)
_FEEDBACK_LOCK = threading.Lock()


class FeedbackError(QAError):
    """Feedback could not be saved (the chat carries on)."""


def prepare_message(text: str | None) -> tuple[str, str]:
    """(the message to ask, a note for the user): normalised, stripped, cut to the length limit."""
    text = normalise_text(text).strip() if isinstance(text, str) else ""
    if len(text) <= MAX_QUESTION_CHARS:
        return text, ""
    # People tell their story first: the questions at the end are what to answer.
    kept, moved = shorten(text, MAX_QUESTION_CHARS)
    if moved:
        note = (
            f"Your message was {len(text):,} characters long, so its start and its questions at the end "
            f"were used ({len(kept):,} characters); the middle of the story was left out."
        )
    else:
        note = (
            f"Your message was {len(text):,} characters long, so only the first "
            f"{MAX_QUESTION_CHARS:,} were used, ending at the last whole word."
        )
    return kept, note


def confidence_words(confidence: float) -> str:
    """The confidence score in plain words."""
    if confidence >= HIGH_CONFIDENCE:
        return "high confidence"
    if confidence >= MEDIUM_CONFIDENCE:
        return "medium confidence"
    return "low confidence"


def lines_html(text: str) -> str:
    """Escaped text with its line breaks kept as <br> (never a blank line)."""
    return join_lines(escape(text))


def join_lines(markup: str) -> str:
    """Spaces folded within each line, lines joined by <br>, empty lines dropped."""
    lines = [" ".join(line.split()) for line in markup.splitlines()]
    return "<br>".join(line for line in lines if line)


def render_question(text: str) -> str:
    """The user's own message as chat HTML: escaped, shown exactly as typed."""
    return f'<div class="qa-question">{lines_html(text)}</div>'


def unit_html(unit: AnswerUnit) -> str:
    """One answer unit with its [n] marker; a highlighted span is bold, and so is
    a list item's label whose stop the source page lost ("Spinal cord
    compression When cancer spreads..."), as the page showed it."""
    text = unit.text
    bold = []
    label = run_in_label(text)
    if label:
        bold.append((0, label, "qa-label"))
    if unit.highlight is not None and label <= unit.highlight.start and unit.highlight.end <= len(text):
        bold.append((unit.highlight.start, unit.highlight.end, ""))
    parts, last = [], 0
    for start, end, css in bold:
        attr = f' class="{css}"' if css else ""
        parts.append(f"{_piece_html(text[last:start])}<strong{attr}>{_piece_html(text[start:end])}</strong>")
        last = end
    parts.append(_piece_html(text[last:]))
    return f"{''.join(parts).strip()} {ref_html(unit.citation)}"


def _piece_html(text: str) -> str:
    """lines_html keeping one space where the piece starts or ends with one."""
    return (" " if text[:1].isspace() else "") + lines_html(text) + (" " if text[-1:].isspace() else "")


def ref_html(n: int) -> str:
    """An [n] marker that opens source n of the same answer (the page's script does that)."""
    return f'<sup><a class="qa-ref" href="#source-{n}">[{n}]</a></sup>'


def marked_quote(quote: str, texts: list[str]) -> str:
    """The quote, escaped, with every occurrence of the given texts in <mark>."""
    spans = []
    for text in texts:
        start = quote.find(text) if text else -1
        while start >= 0:
            spans.append((start, start + len(text)))
            start = quote.find(text, start + len(text))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, last = [], 0
    for start, end in merged:
        parts.append(f"{escape(quote[last:start])}<mark>{escape(quote[start:end])}</mark>")
        last = end
    parts.append(escape(quote[last:]))
    return join_lines("".join(parts))


def source_label(citation: Citation) -> str:
    """'Title — Publisher · Section · p. 3 · reviewed 2011' (page and date when known), escaped."""
    label = escape(citation.title)
    if citation.publisher:
        label += f" — {escape(citation.publisher)}"
    if citation.section and citation.section != citation.title:
        label += f" · {escape(citation.section)}"
    if citation.page_label:  # a PDF's page: "p. 3"
        label += f" · {escape(citation.page_label)}"
    if citation.reviewed_year is not None:
        label += f" · reviewed {citation.reviewed_year}"
    return label


def source_html(citation: Citation, answer: Answer) -> str:
    """One source as a collapsible <details>: the passage with the cited sentences marked."""
    units = list(answer.units) + ([answer.urgent] if answer.urgent else [])
    texts = [u.text for u in units if u.citation == citation.n]
    link = ""
    if citation.url is not None:
        link = (
            f'<p class="qa-link">Original page: <a href="{escape(citation.url)}" target="_blank" '
            f'rel="noopener noreferrer">{escape(page_name(citation.url))}</a></p>'
        )
    # Beside the source, not inside its summary (a link in a summary is a control in a control).
    full_page = "" if citation.url is None else (
        f'<p class="qa-link qa-full-page"><a href="{escape(citation.url)}" target="_blank" rel="noopener noreferrer">'
        f"Read the full page [{citation.n}]: {escape(page_name(citation.url))}</a></p>"
    )
    return (
        f'<details class="qa-source"><summary><span class="qa-num">[{citation.n}]</span> '
        f"{source_label(citation)}</summary>{link}"
        f'<blockquote class="qa-quote">{marked_quote(citation.quote, texts)}</blockquote></details>{full_page}'
    )


def page_name(url: str) -> str:
    """A web address as people read it: no scheme, no "www.", no trailing slash."""
    name = url.split("://", 1)[-1]
    name = name[4:] if name.startswith("www.") else name
    return name.rstrip("/")


def urgent_html(unit: AnswerUnit) -> str:
    """The sources' urgent-care advice: a labelled alert, not only a colour."""
    return (
        '<div class="qa-urgent" role="alert"><p class="qa-urgent-title"><strong>⚠ Urgent</strong>'
        " — if this is happening now, don't wait:</p>"
        f'<p>{unit_html(unit)}</p></div>'
    )


def help_html(unit: AnswerUnit) -> str:
    """The sources' advice on when to get help, as a calm note: the message touched
    an urgent topic but described no sign happening now."""
    return (
        '<div class="qa-help"><p class="qa-help-title"><strong>When to get help</strong>'
        " — if you notice these signs:</p>"
        f"<p>{unit_html(unit)}</p></div>"
    )


def abstain_html(answer: Answer, list_suggestions: bool = True) -> str:
    """Why there is no answer, and where to go instead (the suggestions, if listed here)."""
    html = f'<div class="qa-abstain"><p>{escape(answer.message)}</p>'
    html += "".join(f'<p class="qa-unanswered">{escape(line)}</p>' for line in answer.unanswered_lines)  # a long post's questions
    if answer.support:  # the support lines the sources name, quoted and cited
        lines = "".join(f"<li>{unit_html(u)}</li>" for u in answer.support)
        html += f'<div class="qa-support"><p class="qa-support-title">Support lines the sources name:</p><ul>{lines}</ul></div>'
    if answer.suggestions and list_suggestions:
        html += '<p class="qa-suggest">Questions the sources do answer:</p><ul>'
        html += "".join(f"<li>{escape(s)}</li>" for s in answer.suggestions)
        html += "</ul>"
    elif answer.suggestions:
        html += '<p class="qa-suggest">Questions the sources do answer are below; select one to ask it.</p>'
    return html + "</div>"


def body_units(answer: Answer) -> list[AnswerUnit]:
    """The answer units, less any that repeat the urgent advice already shown above them."""
    if answer.urgent is None:
        return list(answer.units)
    urgent = " ".join(answer.urgent.text.split())
    rest = [u for u in answer.units if " ".join(u.text.split()) not in urgent]
    return rest or list(answer.units)


def render_answer(
    answer: Answer, note: str = "", list_suggestions: bool = True, html_id: str = "", stamp: str = "",
    source_age_years: int = SOURCE_AGE_YEARS,
) -> str:
    """The whole reply as chat HTML: urgent notice first, answer, sources, disclaimer, then
    `stamp` (the time, as HTML). `html_id` names the reply (which question it answers).

    With list_suggestions=False the caller shows the suggestions as buttons instead."""
    parts = []
    if answer.urgent is not None:
        parts.append(urgent_html(answer.urgent))
    if note:
        parts.append(f'<p class="qa-note">{escape(note)}</p>')
    if answer.abstained:
        parts.append(abstain_html(answer, list_suggestions))
    else:
        units = " ".join(unit_html(u) for u in body_units(answer))
        parts.append(f'<p class="qa-units">{units}</p>')
        parts += [f'<p class="qa-unanswered">{escape(line)}</p>' for line in answer.unanswered_lines]
        parts.append(f'<p class="qa-confidence">{confidence_words(answer.confidence).capitalize()}</p>')
    if answer.help_note is not None:
        parts.append(help_html(answer.help_note))
    if answer.citations:
        sources = "".join(source_html(c, answer) for c in answer.citations)
        age = age_note(answer.citations, source_age_years, datetime.now().year)
        sources += f'<p class="qa-age-note">{escape(age)}</p>' if age else ""
        parts.append(f'<div class="qa-sources"><h2 class="qa-sources-title">Sources</h2>{sources}</div>')
    parts.append(f'<p class="qa-disclaimer"><small>{escape(answer.disclaimer)}</small></p>')
    return f'<div class="qa-answer"{id_attr(html_id)}>{"".join(parts)}{stamp}</div>'


def id_attr(html_id: str) -> str:
    return f' id="{escape(html_id)}"' if html_id else ""


def render_error(note: str = "", html_id: str = "", stamp: str = "") -> str:
    """The short apology shown when answering failed."""
    extra = f'<p class="qa-note">{escape(note)}</p>' if note else ""
    return f'<div class="qa-answer"{id_attr(html_id)}>{extra}<p class="qa-error">{escape(APOLOGY)}</p>{stamp}</div>'


def to_plain(answer: Answer, note: str = "", source_age_years: int = SOURCE_AGE_YEARS) -> str:
    """The reply as plain text (for API clients): urgent, answer, sources, disclaimer."""
    flat = lambda text: " ".join(text.split())
    lines = []
    if answer.urgent is not None:
        lines += [f"URGENT: {flat(answer.urgent.text)} [{answer.urgent.citation}]", ""]
    if note:
        lines += [note, ""]
    lines.append(answer.text)
    if answer.abstained:
        lines += list(answer.unanswered_lines)
    if answer.support:
        lines += ["", "Support lines the sources name:"] + [f"- {flat(u.text)} [{u.citation}]" for u in answer.support]
    if answer.abstained and answer.suggestions:
        lines += ["", "Questions the sources do answer:"] + [f"- {s}" for s in answer.suggestions]
    elif not answer.abstained:
        lines += list(answer.unanswered_lines)
        lines.append(f"({confidence_words(answer.confidence)})")
    if answer.help_note is not None:
        lines += ["", f"When to get help: {flat(answer.help_note.text)} [{answer.help_note.citation}]"]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            page = f", {c.page_label}" if c.page_label else ""
            reviewed = f", reviewed {c.reviewed_year}" if c.reviewed_year else ""
            lines.append(f"[{c.n}] {c.title} — {c.publisher}, section \"{c.section}\"{page}{reviewed}")
            if c.url is not None:
                lines.append(f"    {c.url}")
        age = age_note(answer.citations, source_age_years, datetime.now().year)
        lines += ["", age] if age else []
    lines += ["", answer.disclaimer]
    return "\n".join(lines)


def feedback_record(question: str, answer: Answer | dict, vote: str, reason: str = "", words: str = "") -> dict:
    """One feedback line: the question, its answer with its sources, the vote and a thumbs-down's
    reason; nothing else from the conversation (the page's footer says so)."""
    if vote not in ("up", "down"):
        raise ValueError(f'vote must be "up" or "down", got {vote!r}')
    data = answer if isinstance(answer, dict) else answer.to_json()  # a dict: the answer as kept in the browser
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "reason": reason or None,
        "reason_text": words or None,
        "question": question,
        "answer": data["answer"],
        "abstained": data["abstained"],
        "confidence": data["confidence"],
        "urgent": data["urgent"],
        "citations": [{k: c.get(k) for k in ("n", "doc_id", "title", "publisher", "section", "file", "url")} for c in data["citations"]],
    }


FREE_SPACE_MARGIN = 1_000_000  # bytes left free after a vote: a vote never fills the disk


def record_feedback(path: Path | str, question: str, answer: Answer | dict, vote: str, reason: str = "", words: str = "") -> dict:
    """Append one JSON line to the feedback file and fsync it; raise FeedbackError if that fails.
    The line goes in one write, after checking there is room; a write that fails
    part way is cut back, so the next vote never lands glued to a torn line."""
    path = Path(path)
    record = feedback_record(question, answer, vote, reason, words)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        with _FEEDBACK_LOCK:
            if shutil.disk_usage(path.parent).free < len(line) + FREE_SPACE_MARGIN:
                raise FeedbackError(f"could not save feedback to {path}: the disk is full")
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                try:
                    if os.write(fd, line) != len(line):
                        raise OSError(28, "the line was cut short")
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # back to the last whole line
                    raise
            finally:
                os.close(fd)
        if created:
            fsync_dir(path.parent)
    except OSError as exc:
        raise FeedbackError(f"could not save feedback to {path}: {exc.strerror or exc}") from exc
    return record


def sources_line(publishers) -> str:
    """The welcome's line on who wrote the sources (Markdown), from the metadata."""
    names = sorted({" ".join(p.split()) for p in publishers if p and p.strip()}, key=str.lower)
    own = "your own document" in names
    names = [n for n in names if n != "your own document"] + (["this clinic's own documents"] if own else [])
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"**The sources** are patient-education pages from {escape(listed, quote=False)}."

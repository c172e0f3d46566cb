"""The browser chat's conversation (app.py), without Gradio: what the page's
script (web/chat.js) sends (a question with its id and time, a vote with its
reason), message times, the votes shown again after a reload, and what the
browser keeps.

The page's script, not Gradio, owns a question until its answer arrives: it
gives each question an id, keeps it in the browser's storage and sends it
again after a failure or a reload. A question whose answer the chat already
holds (the answer carries the id) is never answered twice.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape

KEPT_MESSAGES = 200  # the newest messages kept in the browser
MAX_REASON_CHARS = 200  # the optional words after a thumbs-down
# What a thumbs-down may say was wrong (the page shows the same list).
REASONS = {
    "wrong": "Wrong or misleading",
    "not-my-question": "Not my question",
    "hard": "Hard to understand",
    "out-of-date": "Out of date",
    "other": "Other",
}
_ID = re.compile(r"[A-Za-z0-9-]{1,40}")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Sent:
    """A question as the page sent it: its id, its text, and when the person sent
    it in their own time zone (None when the page gave no usable time)."""

    id: str
    text: str
    sent: datetime | None = None


@dataclass(frozen=True)
class Vote:
    """A thumbs-up or -down on the answer at chat position `index`, with the
    optional reason after a thumbs-down."""

    index: int
    vote: str
    reason: str = ""
    words: str = ""


def parse_sent(payload) -> Sent:
    """The page's JSON {"id", "text", "time", "offset"}; anything else is taken as
    the question's text with no id (an older page, a hand-made call)."""
    try:
        data = json.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return Sent("", payload if isinstance(payload, str) else "")
    qid = data.get("id")
    qid = qid if isinstance(qid, str) and _ID.fullmatch(qid) else ""
    return Sent(qid, data["text"], local_time(data.get("time"), data.get("offset")))


def local_time(moment, offset) -> datetime | None:
    """An ISO time and the browser's UTC offset in minutes as an aware local time."""
    if not isinstance(moment, str) or not isinstance(offset, int) or isinstance(offset, bool) or abs(offset) > 18 * 60:
        return None
    try:
        when = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(timezone(timedelta(minutes=offset)))


def now_like(sent: datetime | None) -> datetime | None:
    """Now, in the time zone of the person's own clock (None when unknown)."""
    return None if sent is None else datetime.now(timezone.utc).astimezone(sent.tzinfo)


def time_label(moment: datetime) -> str:
    """'3 Dec 2026, 14:05': unambiguous on paper, in any country."""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}"


def time_html(moment: datetime | None) -> str:
    """A message's time as a small line (empty when unknown)."""
    if moment is None:
        return ""
    stamp = moment.isoformat(timespec="seconds")
    return f'<p class="qa-time"><time datetime="{escape(stamp)}">{escape(time_label(moment))}</time></p>'


def answer_id(qid: str) -> str:
    """The HTML id an answer to question `qid` carries."""
    return f"qa-a-{qid}"


def already_answered(chat: list, qid: str) -> bool:
    """Whether the chat holds the answer to question `qid` (sent again after a lost reply or a reload)."""
    mark = f'id="{answer_id(qid)}"'
    return bool(qid) and any(mark in content_text(m) for m in chat if isinstance(m, dict) and m.get("role") == "assistant")


def forget_lost(chat: list, questions: list, turns: list):
    """(chat, questions, turns) without an answer this session worked out but the page never
    got (the connection dropped): the page sends that question again, and it must not count twice."""
    lost = [t for t in turns if t["index"] >= len(chat)]
    if not lost:
        return chat, questions, turns
    for turn in lost:
        if questions and questions[-1] == turn["question"]:
            questions = questions[:-1]
    return chat, questions, [t for t in turns if t["index"] < len(chat)]


def parse_vote(payload) -> Vote | None:
    """The page's JSON {"index", "vote", "reason", "words"}, checked; None if unusable."""
    try:
        data = json.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("vote") not in ("up", "down"):
        return None
    index = data.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    reason = data.get("reason") if data["vote"] == "down" and data.get("reason") in REASONS else ""
    words = data.get("words") if reason and isinstance(data.get("words"), str) else ""
    return Vote(index, data["vote"], reason, " ".join(words.split())[:MAX_REASON_CHARS])


def votes_json(turns: list[dict]) -> str:
    """The votes given in this conversation, for the page to show: {"index": {"vote", "reason"}}."""
    votes = {str(t["index"]): t["vote"] for t in turns if isinstance(t.get("vote"), dict)}
    return json.dumps(votes, separators=(",", ":"))


FEEDBACK_NOTES = {
    "up": "Thank you: your thumbs-up for “{question}” was saved.",
    "down": "Thank you: your thumbs-down for “{question}” was saved.",
    "reason": "Thank you: your reason for “{question}” was saved.",
    "failed": "Sorry, your feedback could not be saved. The chat still works.",
    "missing": "There is no answer to rate there.",
    "ignored": "",
}


def feedback_note(result: str, question: str = "") -> str:
    """The line under the chat after a vote (HTML; empty when there is nothing to say)."""
    short = question if len(question) <= 60 else question[:57].rstrip() + "…"
    text = FEEDBACK_NOTES[result].format(question=short)
    return f'<p class="qa-feedback">{escape(text)}</p>' if text else ""


def to_browser(chat, questions, turns) -> dict:
    """What the browser keeps of a conversation: its newest messages and what a vote needs."""
    drop = max(0, len(chat) - KEPT_MESSAGES)
    drop += drop % 2  # never keep an answer without its question
    kept = [t | {"index": t["index"] - drop} for t in turns if t["index"] >= drop]
    return {"chat": [plain_message(m) for m in chat[drop:]], "questions": list(questions), "turns": kept}


def content_text(message: dict) -> str:
    """A chat message's HTML: the chat hands earlier messages back with their content as a list of parts."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict)) if isinstance(content, list) else ""


def plain_message(message: dict) -> dict:
    """A chat message as {"role", "content": HTML text, "options"?}."""
    plain = {"role": message["role"], "content": content_text(message)}
    if message.get("options"):
        plain["options"] = [{"value": o["value"]} for o in message["options"]]
    return plain


def from_browser(saved):
    """A conversation kept in the browser, checked: chat, questions, turns; empty if it is not one."""
    empty = [], [], []
    if not isinstance(saved, dict):
        return empty
    chat, questions, turns = saved.get("chat"), saved.get("questions"), saved.get("turns")
    if not (isinstance(chat, list) and isinstance(questions, list) and isinstance(turns, list)):
        return empty
    roles_ok = all(
        isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str) for m in chat
    )
    if not roles_ok or not all(isinstance(q, str) for q in questions):
        return empty
    turns = [t for t in turns if isinstance(t, dict) and isinstance(t.get("index"), int) and isinstance(t.get("answer"), dict)]
    return chat, questions, turns


class Answered:
    """What this server answered, by an unguessable key: a vote names the key and
    the feedback line holds the server's own question and answer, never text a
    page (or a forged request) sends. Bounded: the oldest are forgotten first."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._said: OrderedDict[str, tuple[str, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, question: str, answer: dict) -> str:
        key = secrets.token_hex(16)
        with self._lock:
            self._said[key] = (question, answer)
            while len(self._said) > self._size:
                self._said.popitem(last=False)
        return key

    def get(self, key) -> tuple[str, dict] | None:
        if not isinstance(key, str):
            return None
        with self._lock:
            return self._said.get(key)

"""app.py: flags, the chat handlers (fake assistant), and the live app with the
real assistant: a gradio_client round trip and a load test of concurrent clients."""

import json
import re
import statistics
import sys
import threading
import time

import pytest
from live_app import QUIET_GRADIO, ROOT, serve

sys.path.insert(0, str(ROOT))
import app  # noqa: E402

COVERED = "don't cover this question"
# Five conversations; each client plays one, passing its own earlier questions.
# (question, what the reply must match, what its answer part must not); None: abstains.
CONVERSATIONS = [
    [
        ("how do I renew my passport?", None, None),
        ("which bones do bone metastases usually affect?", r"bone", None),
        ("and for breast cancer?", r"breast", None),
        ("what is vertebroplasty", r"cement", None),
        ("what are the side effects of Zometa?", r"side effects", None),
    ],
    [
        ("what is zometa?", r"zometa|zoledron", None),
        ("what are its side effects?", r"side effects", None),
        ("what's the best recipe for lasagna?", None, None),
        ("is bone mets cancer curable", r"incurable|treatable", None),
        ("what is vertebroplasty", r"cement", None),
    ],
    [
        ("what is xgeva?", r"denosumab", None),
        ("how is it given?", r"skin|inject", None),
        ("what is the dose of tamoxifen for lupus?", None, None),
        ("what is a dexa scan", r"bone density|dexa", None),
        ("how can I avoid falling at home?", r"fall|trip|rugs", None),
    ],
    [
        ("will it snow in denver this weekend?", None, None),
        # A definition: the calm note, never the red box.
        ("what is hypercalcemia?", r"hypercalcemia[\s\S]*When to get help: ", r"^URGENT"),
        ("how is it treated?", r"hypercalcemia|calcium", r"spinal cord"),  # "it" is this client's subject
        ("what can i eat to keep my bones strong", r"bone|calcium", None),
        ("which cancers usually spread to the bones?", r"breast|prostate|lung", None),
    ],
    [
        ("what is spinal cord compression?", r"spinal cord[\s\S]*When to get help: ", r"^URGENT"),
        ("how is it treated?", r"spinal cord|paraly", r"hypercalcemia"),  # and this one's
        ("what's the best recipe for lasagna?", None, None),
        ("my husband has back pain and suddenly his legs are weak and numb", r"^URGENT: ", None),
        ("does bone metastasis pain get worse at night?", r"night", None),
    ],
]
CLIENTS = 20
pytestmark = QUIET_GRADIO


def check_reply(reply: str, expected: str | None, forbidden: str | None) -> None:
    """A reply is right for its question: the expected fact, cited, or an abstention."""
    assert reply.rstrip().endswith("not medical advice. Ask your care team about your own situation."), reply
    if expected is None:
        assert COVERED in reply, reply
        return
    assert COVERED not in reply and "[1]" in reply, reply
    assert re.search(expected, reply, re.I), (expected, reply)
    if forbidden:
        assert not re.search(forbidden, reply.split("\nSources:")[0], re.I), (forbidden, reply)


def reference_replies(assistant) -> dict:
    """What each conversation's replies are when asked one at a time, in-process."""
    from qa.apps.chat import to_plain

    replies = {}
    for conversation in CONVERSATIONS:
        history: list[str] = []
        for question, _, _ in conversation:
            replies[question, tuple(history)] = to_plain(assistant.ask(question, history))
            history.append(question)
    return replies


# --- flags --------------------------------------------------------------------


def test_flags_default_to_localhost(monkeypatch):
    for name in ("QA_HOST", "QA_PORT", "QA_FEEDBACK"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert (args.host, args.port, str(args.feedback)) == ("127.0.0.1", 7860, "feedback/feedback.jsonl")


def test_flags_from_environment_and_command_line(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_HOST", "0.0.0.0")
    monkeypatch.setenv("QA_PORT", "8000")
    monkeypatch.setenv("QA_FEEDBACK", str(tmp_path / "f.jsonl"))
    args = app.parse_args([])
    assert (args.host, args.port, args.feedback) == ("0.0.0.0", 8000, tmp_path / "f.jsonl")
    args = app.parse_args(["--host", "127.0.0.1", "--port", "9000", "--feedback", "x.jsonl"])
    assert (args.host, args.port, str(args.feedback)) == ("127.0.0.1", 9000, "x.jsonl")


def test_analytics_are_off():
    assert app.os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


# --- handlers (fake assistant) ------------------------------------------------


def _turn(h, message, chat=(), questions=(), turns=(), qid=""):
    payload = json.dumps({"id": qid, "text": message}) if qid else message
    chat, questions, turns, _, done = h.respond(payload, list(chat), list(questions), list(turns))
    assert done == qid
    return chat, questions, turns


def test_a_conversation_keeps_its_own_history(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    chat, questions, turns = _turn(h, "what is zometa?")
    chat, questions, turns = _turn(h, "what are its side effects?", chat, questions, turns)
    assert questions == ["what is zometa?", "what are its side effects?"]
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    assert "headache" in chat[3]["content"] and turns[1]["question"] == "what are its side effects?"
    assert turns[1]["index"] == 3


def test_empty_messages_are_ignored(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    assert _turn(h, "   \n ", qid="a1") == ([], [], [])


def test_long_messages_are_cut_with_a_note(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    chat, questions, turns = _turn(h, "what is zometa? " + "x" * 3000)
    assert "only the first 2,000 were used, ending at the last whole word" in chat[1]["content"]
    assert len(questions[0]) <= 2000 and len(turns[0]["question"]) <= 2000


def test_abstentions_offer_suggestions_as_buttons(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    chat, _, _ = _turn(h, "how do I renew my passport?")
    assert [o["value"] for o in chat[1]["options"]] == list(fake_assistant.ask("how do I renew my passport?").suggestions)


def test_an_internal_error_apologises_and_the_next_question_works(fake_assistant, tmp_path, monkeypatch, caplog):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    real_ask = fake_assistant.ask

    def ask(question, history=()):
        if "explode" in question:
            raise RuntimeError("engine bug")
        return real_ask(question, history)

    monkeypatch.setattr(fake_assistant, "ask", ask)
    chat, questions, turns = _turn(h, "explode please")
    assert "Sorry, something went wrong" in chat[1]["content"] and "engine bug" not in chat[1]["content"]
    assert "engine bug" in caplog.text
    chat, questions, turns = _turn(h, "what is zometa?", chat, questions, turns)
    assert "Zometa is a bisphosphonate" in chat[3]["content"]


def _vote(index, vote, reason="", words=""):
    return json.dumps({"index": index, "vote": vote, "reason": reason, "words": words})


def test_votes_are_saved_kept_with_the_conversation_and_a_failure_is_reported(fake_assistant, tmp_path, caplog):
    path = tmp_path / "feedback.jsonl"
    h = app.Handlers(fake_assistant, path)
    chat, questions, turns = _turn(h, "what is zometa?")
    chat, questions, turns = _turn(h, "what are its side effects?", chat, questions, turns)
    turns, kept, votes, note = h.vote(_vote(1, "up"), chat, questions, turns)
    assert json.loads(votes) == {"1": {"vote": "up", "reason": ""}} and "thumbs-up for “what is zometa?” was saved" in note
    turns, kept, votes, note = h.vote(_vote(3, "down", "hard", "  too   long "), chat, questions, turns)
    assert json.loads(votes) == {"1": {"vote": "up", "reason": ""}, "3": {"vote": "down", "reason": "hard"}}
    assert "your reason for" in note
    # The votes come back after a reload, with the conversation kept in the browser.
    assert json.loads(app.restore(json.loads(json.dumps(kept)))[3]) == json.loads(votes)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["vote"], r["reason"], r["reason_text"]) for r in lines] == [("up", None, None), ("down", "hard", "too long")]
    assert lines[1]["question"] == "what are its side effects?" and "history" not in lines[1]
    assert h.vote(_vote(0, "up"), chat, questions, turns)[3] == app.feedback_note("missing")
    assert h.vote("not json", chat, questions, turns)[3] == ""
    h.feedback_path = tmp_path  # a folder: cannot be written as a file
    assert "could not be saved" in h.vote(_vote(1, "down"), chat, questions, turns)[3]
    assert "feedback not saved" in caplog.text


def test_respond_adds_question_and_answer_together_and_keeps_them_for_the_browser(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    payload = json.dumps({"id": "k1-abc", "text": "what is zometa?", "time": "2026-03-04T09:05:00Z", "offset": 60})
    chat, questions, turns, kept, done = h.respond(payload, [], [], [])
    assert done == "k1-abc" and [m["role"] for m in chat] == ["user", "assistant"]
    assert '<time datetime="2026-03-04T10:05:00+01:00">4 Mar 2026, 10:05</time>' in chat[0]["content"]
    assert 'id="qa-a-k1-abc"' in chat[1]["content"] and 'class="qa-time"' in chat[1]["content"]
    assert kept["questions"] == ["what is zometa?"] and kept["turns"][0]["answer"]["answer"]
    assert app.from_browser(json.loads(json.dumps(kept))) == (chat, questions, turns)


def test_a_question_sent_again_is_never_answered_twice(fake_assistant, tmp_path):
    """After a reload (or a lost reply) the page sends its question again: the chat already holding
    its answer is told so; an answer the page never got is given again, counted once."""
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    payload = json.dumps({"id": "q-1", "text": "what is zometa?"})
    chat, questions, turns, _, _ = h.respond(payload, [], [], [])
    again = h.respond(payload, chat, questions, turns)
    assert again[0] == chat and again[1] == ["what is zometa?"] and again[4] == "q-1"
    # This session answered it, the page never got the reply: asked again with the page's chat.
    lost = h.respond(payload, [], questions, turns)
    assert [m["role"] for m in lost[0]] == ["user", "assistant"] and lost[1] == ["what is zometa?"]
    assert [t["index"] for t in lost[2]] == [1]


def test_new_conversation_can_be_undone(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    chat, questions, turns = _turn(h, "what is zometa?")
    turns = h.vote(_vote(1, "up"), chat, questions, turns)[0]
    as_the_page_sends = [m | {"content": [{"text": m["content"], "type": "text"}]} for m in chat]
    cleared = app.new_conversation(as_the_page_sends, questions, turns)
    assert cleared[:4] == ([], [], [], "") and cleared[4] == {"chat": [], "questions": [], "turns": []}
    back = app.undo_new_conversation(cleared[6])
    assert back[:3] == (chat, questions, turns) and json.loads(back[4]) == {"1": {"vote": "up", "reason": ""}}


def test_what_the_browser_keeps_is_checked_and_plain(fake_assistant, tmp_path):
    parts = [{"role": "user", "metadata": None, "content": [{"text": "<div>q</div>", "type": "text"}], "options": None}]
    kept = app.to_browser(parts + [{"role": "assistant", "content": "a", "options": [{"value": "s", "label": None}]}], ["q"], [])
    assert kept["chat"] == [{"role": "user", "content": "<div>q</div>"}, {"role": "assistant", "content": "a", "options": [{"value": "s"}]}]
    for bad in (None, "x", {"chat": "x"}, {"chat": [{"role": "system", "content": "x"}], "questions": [], "turns": []},
                {"chat": [], "questions": [1], "turns": []}):
        assert app.from_browser(bad) == ([], [], [])
    many = [{"role": r, "content": "x"} for _ in range(app.KEPT_MESSAGES) for r in ("user", "assistant")]
    turns = [{"index": i, "question": "q", "answer": {}} for i in range(1, len(many), 2)]
    kept = app.to_browser(many, [], turns)
    assert len(kept["chat"]) == app.KEPT_MESSAGES and kept["chat"][0]["role"] == "user"
    assert kept["turns"][0]["index"] == 1 and len(kept["turns"]) == app.KEPT_MESSAGES // 2


def test_the_api_link_shows_only_when_asked_for(monkeypatch):
    assert app.parse_args([]).show_api is False
    assert app.parse_args(["--show-api"]).show_api is True
    monkeypatch.setenv("QA_SHOW_API", "1")
    assert app.parse_args([]).show_api is True


# --- the live app (real assistant) ---------------------------------------------


@pytest.fixture(scope="module")
def live(assistant, tmp_path_factory):
    feedback = tmp_path_factory.mktemp("app") / "feedback.jsonl"
    with serve(assistant, feedback) as url:
        yield url


def test_gradio_client_round_trip(live):
    from gradio_client import Client

    client = Client(live, verbose=False)
    reply = client.predict("what are its side effects?", ["what is zometa?"], api_name="/chat")
    check_reply(reply, r"side effects", None)
    assert "\nSources:\n[1] " in reply
    check_reply(client.predict("how do I renew my passport?", api_name="/chat"), None, None)
    assert "please type a question" in client.predict("", [], api_name="/chat").lower()
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/chat"]


@pytest.mark.slow
def test_internal_errors_reach_the_client_as_an_apology(live, assistant, monkeypatch):
    from gradio_client import Client

    real_ask = assistant.ask

    def ask(question, history=()):
        if "explode" in question:
            raise RuntimeError("engine bug")
        return real_ask(question, history)

    monkeypatch.setattr(assistant, "ask", ask)
    client = Client(live, verbose=False)
    with pytest.raises(Exception, match="Sorry, something went wrong"):
        client.predict("explode", api_name="/chat")
    check_reply(client.predict("what is vertebroplasty", api_name="/chat"), r"cement", None)


@pytest.mark.slow
def test_load_many_concurrent_clients(live, assistant, tmp_path, capsys, record_property):
    """20 clients at once, 5 questions each: every reply is the one its own question
    and history get when asked alone, and holds the expected fact or abstains."""
    from gradio_client import Client

    expected_replies = reference_replies(assistant)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def run(i: int) -> None:
        conversation = CONVERSATIONS[i % len(CONVERSATIONS)]
        try:
            client = Client(live, verbose=False)
            start.wait(timeout=60)
            history: list[str] = []
            for question, expected, forbidden in conversation:
                t0 = time.perf_counter()
                reply = client.predict(question, history, api_name="/chat")
                with lock:
                    latencies.append(time.perf_counter() - t0)
                check_reply(reply, expected, forbidden)
                assert reply == expected_replies[question, tuple(history)], (question, history, reply)
                history.append(question)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported below
            with lock:
                failures.append(f"client {i}: {type(exc).__name__}: {str(exc)[:500]}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    wall = time.perf_counter() - t0

    ordered = sorted(latencies)
    figures = {
        "clients": CLIENTS,
        "questions_per_client": len(CONVERSATIONS[0]),
        "requests": len(latencies),
        "errors": len(failures),
        "wall_s": round(wall, 2),
        "latency_median_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "latency_p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000, 1) if ordered else None,
        "latency_max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
    }
    (tmp_path / "load.json").write_text(json.dumps(figures, indent=2))
    for key, value in figures.items():
        record_property(key, value)
    with capsys.disabled():
        print(f"\nload test: {json.dumps(figures)}")
    assert not failures, "\n".join(failures)
    assert len(latencies) == CLIENTS * len(CONVERSATIONS[0])

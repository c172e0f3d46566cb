"""The browser chat: `python app.py [--host H] [--port P] [--feedback FILE]`.

Loads the assistant once (building the index first if needed) and serves a
Gradio chat shared by all sessions; each session keeps its own conversation.
API clients call `/chat` with a question and its earlier questions:

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    print(client.predict("what are its side effects?", ["what is zometa?"], api_name="/chat"))
"""

import argparse
import logging
import os
import sys
from html import escape
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # no usage reports, ever
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402  (after the environment above)
from starlette.middleware import Middleware  # noqa: E402

from qa.apps.chat import (  # noqa: E402
    APOLOGY,
    FeedbackError,
    prepare_message,
    record_feedback,
    render_answer,
    render_error,
    render_question,
    sources_line,
    to_plain,
)
from qa.apps.conversation import (  # noqa: E402
    KEPT_MESSAGES,
    Answered,  # noqa: F401  (app.KEPT_MESSAGES: how many messages the browser keeps)
    Sent,
    Vote,
    already_answered,
    answer_id,
    feedback_note,
    forget_lost,
    from_browser,
    now_like,
    parse_sent,
    parse_vote,
    time_html,
    to_browser,
    votes_json,
)
from qa.apps.server import (  # noqa: E402
    BUSY,
    Gate,
    NoUploads,
    WebGuard,
    allowed_hosts,
    api_problem,
    check_address,
    default_missing_history,
    port_number,
)
from qa.errors import BusyError  # noqa: E402
from qa.settings import SOURCE_AGE_YEARS, Settings  # noqa: E402

log = logging.getLogger("qa.app")
# Run in the browser (web/chat.js): the question or vote to send replaces the first
# input; the page learns whether a question was answered (after a failure too).
SEND_JS = "(...values) => window.qaChat.sending(values)"
VOTE_JS = "(...values) => window.qaChat.voting(values)"
SETTLED_JS = "(done) => { window.qaChat.settled(done); }"
NEW_JS = "(...values) => { window.qaChat.cleared(); return values; }"
READY_JS = "() => { window.qaChat.ready(); }"
TITLE = "Bone metastasis Q&A"
EXAMPLES = [  # at most four: on a phone they fit under the welcome
    "What is bone metastasis?",
    "How is bone pain managed?",
    "What is Xgeva (denosumab)?",
    "What are the signs of spinal cord compression?",
]
HEADER = f"""# {TITLE}
Answers copied word for word from trusted patient-education pages, each with its source. **Not medical advice.**"""
WELCOME = """**Ask about bone metastasis** in your own words, for yourself or someone you care for.

Answers are quoted word for word from trusted patient-education pages, each with its source. When the sources don't cover a question, it says so.

**Not a doctor:** talk to your care team about your own care; in an emergency, call your local emergency number."""
# Says exactly what a vote stores (Handlers.rate, qa/apps/chat.py feedback_record).
FOOTER = (
    "Rating an answer (thumbs up or down under it) saves that question, the answer with its sources, and the "
    "reason you choose, if any, to help improve the assistant; nothing else from the conversation. The conversation is kept in "
    "this browser only, until you choose New conversation. Enter sends; Shift+Enter adds a new line."
)
# System fonts: nothing to download, and the same look on every machine.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"])
WEB = Path(__file__).resolve().parent / "web"  # the page's stylesheet and script
# The conversation kept in this browser (localStorage). BrowserState encrypts it
# with this key inside the browser, so the key is no secret from the user; a
# fixed one keeps a conversation readable after the server restarts.
STORAGE_KEY = "bone-mets-qa-conversation"
STORAGE_KEY_CIPHER = "bone-mets-qa-v1"
# Under the chat, in the page's flow so it never covers a message: what the chat
# is doing, the button to an answer that arrived out of view, and "Undo" after
# New conversation.
STATUS_BAR = (
    '<div class="qa-bar"><p id="qa-status" role="status" aria-live="polite"></p>'
    '<button type="button" id="qa-jump" hidden>New answer ↓</button>'
    '<button type="button" id="qa-undo-new" hidden>Undo</button></div>'
)
# Beside New conversation: the whole conversation on paper or as a file (web/chat.js).
SAVE_BUTTONS = (
    '<details id="qa-save-menu"><summary>Save or print conversation</summary><div class="qa-save-choices">'
    '<button type="button" id="qa-print">Print</button>'
    '<button type="button" id="qa-save-text">Download as text</button>'
    '<button type="button" id="qa-save-html">Download as web page</button></div></details>'
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the bone metastasis Q&A chat in the browser.")
    try:
        env = Settings.from_env()  # the defaults, and QA_HOST / QA_PORT / QA_FEEDBACK
    except ValueError as exc:
        parser.error(str(exc))
    parser.add_argument("--host", default=env.host,
                        help="address to listen on (default 127.0.0.1, or $QA_HOST); 0.0.0.0 opens it to your network")
    parser.add_argument("--port", type=port_number, default=env.port, help="port (default 7860, or $QA_PORT)")
    parser.add_argument("--feedback", type=Path, default=env.feedback_path,
                        help="where thumbs-up/down votes are appended as JSON lines (default feedback/feedback.jsonl, or $QA_FEEDBACK)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/ or $QA_CORPUS)")
    parser.add_argument("--index", type=Path, help="index folder (default: index/ or $QA_INDEX)")
    parser.add_argument("--show-api", action="store_true", default=env.show_api,
                        help="show Gradio's 'Use via API' link in the page's footer (for developers; or QA_SHOW_API=1)")
    return parser.parse_args(argv)


def render_busy(html_id: str = "") -> str:
    """The chat reply when every slot stayed taken."""
    attr = f' id="{escape(html_id)}"' if html_id else ""
    return f'<div class="qa-answer"{attr}><p class="qa-error">{escape(BUSY)}</p></div>'


class Handlers:
    """The chat's event handlers around one loaded assistant, shared by all sessions."""

    def __init__(self, assistant, feedback_path: Path | str, gate: Gate | None = None, source_age_years: int = SOURCE_AGE_YEARS) -> None:
        self.assistant = assistant
        self.source_age_years = source_age_years  # older sources get a note (Settings.source_age_years)
        self.feedback_path = Path(feedback_path)
        self.gate = Gate() if gate is None else gate
        self.answered = Answered()  # what a vote may rate: this server's own answers

    def ask(self, text: str, questions: list[str]):
        """The Answer, or None after logging the error: an engine bug must not end the chat.
        Raises BusyError when no answering slot frees up in time."""
        with self.gate.slot():
            try:
                return self.assistant.ask(text, list(questions))
            except Exception:
                log.exception("answering %r failed", text[:200])
                return None

    def answer_turn(self, sent: Sent, chat, questions, turns):
        """The question and its answer added to the conversation together; (chat, questions, turns)."""
        text, note = prepare_message(sent.text)
        if not text:
            return chat, questions, turns
        question = {"role": "user", "content": render_question(text) + time_html(sent.sent)}
        html_id = answer_id(sent.id) if sent.id else ""
        try:
            answer = self.ask(text, questions)
        except BusyError:
            return chat + [question, {"role": "assistant", "content": render_busy(html_id)}], questions, turns
        stamp = time_html(now_like(sent.sent))
        if answer is None:
            return chat + [question, {"role": "assistant", "content": render_error(note, html_id, stamp)}], questions, turns
        reply = {"role": "assistant", "content": render_answer(
            answer, note, list_suggestions=False, html_id=html_id, stamp=stamp, source_age_years=self.source_age_years)}
        if answer.abstained and answer.suggestions:
            reply["options"] = [{"value": s} for s in answer.suggestions]
        # The answer as JSON, so the page can show it after a reload; a vote is
        # saved from the server's own record of it (self.answered), by its key.
        data = answer.to_json()
        turns = turns + [{"index": len(chat) + 1, "question": text, "answer": data, "key": self.answered.add(text, data)}]
        if answer.usable:
            questions = questions + [text]
        return chat + [question, reply], questions, turns

    def respond(self, payload, chat, questions, turns):
        """Answer the question the page sent (web/chat.js). The last output tells the page which
        question is answered, so it stops keeping it; one sent again whose answer the chat
        already holds (after a lost reply or a reload) is not answered twice."""
        sent = parse_sent(payload)
        chat, questions, turns = forget_lost(list(chat or []), list(questions or []), list(turns or []))
        if already_answered(chat, sent.id):
            return chat, questions, turns, gr.skip(), sent.id
        chat, questions, turns = self.answer_turn(sent, chat, questions, turns)
        return chat, questions, turns, to_browser(chat, questions, turns), sent.id

    def vote(self, payload, chat, questions, turns):
        """A thumbs-up/down (and a thumbs-down's reason) from the page: saved, shown under the chat,
        and kept with the conversation so the buttons show it after a reload."""
        result, turns, question = self.rate(turns, parse_vote(payload))
        return turns, to_browser(chat or [], questions or [], turns), votes_json(turns), feedback_note(result, question)

    def rate(self, turns, vote: Vote | None):
        """Append a vote to the feedback file: (result, turns with the vote, the question);
        result is 'up', 'down', 'reason', 'failed', 'missing' or 'ignored'."""
        if vote is None:
            return "ignored", turns, ""
        turn = next((t for t in turns if t["index"] == vote.index), None)
        said = self.answered.get(turn.get("key")) if turn is not None else None
        if said is None:
            return "missing", turns, ""  # not answered here (or before a restart): nothing of the client's is written
        question, answer = said
        try:
            record_feedback(self.feedback_path, question, answer, vote.vote, vote.reason, vote.words)
        except FeedbackError as exc:
            log.error("feedback not saved: %s", exc)
            return "failed", turns, question
        kept = {"vote": vote.vote, "reason": vote.reason}
        turns = [t | {"vote": kept} if t is turn else t for t in turns]
        return ("reason" if vote.reason else vote.vote), turns, question

    def chat_api(self, message: str, history: list[str] | None = None) -> str:
        """Answer `message`; `history` is the user's earlier questions, oldest first."""
        problem = api_problem(message, history)
        if problem:
            raise gr.Error(problem, print_exception=False)  # the caller's mistake: no traceback in our log
        text, note = prepare_message(message)
        earlier = [prepare_message(h)[0] for h in history or []]
        try:
            answer = self.ask(text, [h for h in earlier if h])
        except BusyError:
            raise gr.Error(BUSY, print_exception=False) from None
        if answer is None:
            raise gr.Error(APOLOGY, print_exception=False)  # Handlers.ask logged the cause
        return to_plain(answer, note, self.source_age_years)


def new_conversation(chat, questions, turns):
    """Empty chat, history, turns, feedback note, votes and kept conversation; the old one
    is put aside for "Undo" (this session only)."""
    # An empty conversation, not None: the browser only writes a value that is set.
    empty = {"chat": [], "questions": [], "turns": []}
    return [], [], [], "", empty, "{}", to_browser(chat or [], questions or [], turns or [])


def undo_new_conversation(put_aside):
    """The conversation New conversation cleared, back (kept in the browser again)."""
    chat, questions, turns = from_browser(put_aside)
    return chat, questions, turns, to_browser(chat, questions, turns), votes_json(turns), None


def restore(saved):
    """The conversation kept in this browser, and its votes for the page's buttons."""
    chat, questions, turns = from_browser(saved)
    return chat, questions, turns, votes_json(turns)


def _welcome(assistant) -> str:
    """WELCOME, with who wrote the sources (the metadata's publishers) before the reminder."""
    line = sources_line(chunk.publisher for chunk in assistant.index.chunks)
    intro, reminder = WELCOME.rsplit("\n\n", 1)
    return f"{intro}\n\n{line}\n\n{reminder}" if line else WELCOME


def build_app(assistant, feedback_path: Path | str, show_api: bool = False) -> gr.Blocks:
    """The chat UI and the `/chat` API endpoint around an already loaded assistant."""
    h = Handlers(assistant, feedback_path, source_age_years=assistant.settings.source_age_years)
    private = dict(api_visibility="private")
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(HEADER, elem_id="qa-header")
        questions, turns, put_aside = gr.State([]), gr.State([]), gr.State(None)
        saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_KEY_CIPHER)
        chat = gr.Chatbot(
            label="Conversation", show_label=False, height="62vh", min_height=360, buttons=[], latex_delimiters=[],
            placeholder=_welcome(assistant), examples=[{"text": q} for q in EXAMPLES], elem_id="qa-chat",
            group_consecutive_messages=False, layout="bubble", autoscroll=False,  # web/chat.js scrolls
        )
        gr.HTML(STATUS_BAR, elem_id="qa-bar", padding=False)  # filled in by web/chat.js
        note = gr.HTML("", elem_id="qa-feedback-note", padding=False)
        gr.Textbox(  # web/chat.js sends what is typed here (Enter or Ask), never Gradio's own submit
            label="Your question", show_label=True, placeholder="Type your question here", lines=1, max_lines=6,
            submit_btn="Ask", autofocus=True, elem_id="qa-box",
        )
        with gr.Row(elem_id="qa-actions"):
            new = gr.Button("New conversation", variant="secondary", size="sm", scale=0, min_width=180, elem_id="qa-new")
            gr.HTML(SAVE_BUTTONS, padding=False, elem_id="qa-save")
        gr.Markdown(FOOTER, elem_classes=["qa-footer"])
        # What web/chat.js sends and reads: never shown. The page, not Gradio, sends a
        # question (Enter, Ask, an example or a suggestion all go through it), so it
        # can keep it until its answer arrives and send it again after a failure.
        wire = gr.Textbox(visible="hidden", elem_id="qa-wire")
        done = gr.Textbox(visible="hidden", elem_id="qa-done")  # the id of the question last answered
        votes = gr.Textbox("{}", visible="hidden", elem_id="qa-votes")  # the votes, for the page's buttons
        send = gr.Button("send", visible="hidden", elem_id="qa-send")
        rate = gr.Button("vote", visible="hidden", elem_id="qa-rate")
        undo = gr.Button("undo", visible="hidden", elem_id="qa-undo")

        send.click(
            h.respond, [wire, chat, questions, turns], [chat, questions, turns, saved, done], js=SEND_JS,
            trigger_mode="multiple", show_progress="hidden", **private,
        ).then(None, [done], None, js=SETTLED_JS, **private)  # after a failure too: the page offers Retry
        rate.click(h.vote, [wire, chat, questions, turns], [turns, saved, votes, note], js=VOTE_JS,
                   trigger_mode="multiple", show_progress="hidden", **private)
        reset = [chat, questions, turns, note, saved, votes, put_aside]
        new.click(new_conversation, [chat, questions, turns], reset, js=NEW_JS, queue=False, **private)
        chat.clear(new_conversation, [chat, questions, turns], reset, queue=False, **private)
        undo.click(undo_new_conversation, [put_aside], [chat, questions, turns, saved, votes, put_aside], queue=False, **private)
        demo.load(restore, [saved], [chat, questions, turns, votes], queue=False, **private).then(
            None, None, None, js=READY_JS, **private)
        gr.api(h.chat_api, api_name="chat")
    # Gradio's queue passes every request on at once (a full Gradio queue is a raw
    # "Queue is full" error); the Gate (qa/apps/server.py) lets 8 answer at a time and
    # tells the rest, after BUSY_AFTER_S, that the assistant is busy.
    demo.queue(default_concurrency_limit=None, max_size=None)
    default_missing_history(demo)
    demo.qa_show_api = show_api  # read by launch(): the "Use via API" link only when asked for
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, extra_hosts: tuple = ()):
    """Serve the app; with block=False return once it is listening, else serve until Ctrl-C.
    `extra_hosts`: names besides this machine's that requests may be addressed to."""
    guard = Middleware(WebGuard, allowed=allowed_hosts(host, tuple(extra_hosts)))  # outermost: checks every route
    return demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=not block, css_paths=[WEB / "chat.css"],
        head=f"<script>{(WEB / 'chat.js').read_text(encoding='utf-8')}</script>", theme=THEME, show_error=False,
        footer_links=["api"] if getattr(demo, "qa_show_api", False) else [], run_history=False, enable_monitoring=False,
        ssr_mode=False, pwa=False, mcp_server=False, quiet=True, app_kwargs={"middleware": [guard, Middleware(NoUploads)]},
        max_file_size=1,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.INFO)  # no library debug chatter
    logging.getLogger("qa").setLevel(logging.INFO)
    from qa.answering.assistant import Assistant
    from qa.apps.follow import FollowsIndex
    from qa.errors import QAError

    try:
        check_address(args.host, args.port)
        settings = Settings.from_env(
            corpus_dir=args.corpus, index_dir=args.index, host=args.host, port=args.port, feedback_path=args.feedback,
        )
        print(f"Loading the assistant (index folder {settings.index_dir}/, built first if missing or out of date)...", flush=True)
        # A `qa index` rebuild while the chat runs is picked up between questions.
        assistant = FollowsIndex(Assistant.load(settings, progress=True))
    except (QAError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = build_app(assistant, settings.feedback_path, show_api=args.show_api)
    try:
        launch(demo, settings.host, settings.port, block=False, extra_hosts=settings.allowed_hosts)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc}): check --host and --port", file=sys.stderr)
        return 2
    if args.host == "0.0.0.0":
        print("Listening on all network interfaces (--host 0.0.0.0): anyone who can reach this machine can use the chat.")
    where = "<this machine's address>" if args.host == "0.0.0.0" else args.host
    print(f"Feedback goes to {args.feedback}")
    print(f"Chat ready: open http://{where}:{args.port}/ in a browser (Ctrl-C stops it).", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())

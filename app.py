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
# Runs in the browser as a question is sent: empty the box then, so nothing typed later is lost.
CLEAR_BOX_JS = "(...values) => { window.qaChat?.questionSent(); return values; }"
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
FOOTER = (
    "Rate an answer with the thumbs-up or thumbs-down button under it: that saves your question and the answer "
    "(nothing else) to help improve the assistant. The conversation is kept in this browser only, until you "
    "choose New conversation. Enter sends; Shift+Enter adds a new line."
)
# System fonts: nothing to download, and the same look on every machine.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"])
WEB = Path(__file__).resolve().parent / "web"  # the page's stylesheet and script
# The conversation kept in this browser (localStorage). BrowserState encrypts it
# with this key inside the browser, so the key is no secret from the user; a
# fixed one keeps a conversation readable after the server restarts.
STORAGE_KEY = "bone-mets-qa-conversation"
STORAGE_KEY_CIPHER = "bone-mets-qa-v1"
KEPT_MESSAGES = 200  # the newest messages kept in the browser
# Under the chat, in the page's flow so it never covers a message: what the chat
# is doing ("Answering…") and the button to an answer that arrived out of view.
STATUS_BAR = (
    '<div class="qa-bar"><p id="qa-status" role="status" aria-live="polite"></p>'
    '<button type="button" id="qa-jump" hidden>New answer ↓</button></div>'
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
    return parser.parse_args(argv)


def render_busy() -> str:
    """The chat reply when every slot stayed taken."""
    return f'<div class="qa-answer"><p class="qa-error">{escape(BUSY)}</p></div>'


class Handlers:
    """The chat's event handlers around one loaded assistant, shared by all sessions."""

    def __init__(self, assistant, feedback_path: Path | str, gate: Gate | None = None, source_age_years: int = SOURCE_AGE_YEARS) -> None:
        self.assistant = assistant
        self.source_age_years = source_age_years  # older sources get a note (Settings.source_age_years)
        self.feedback_path = Path(feedback_path)
        self.gate = Gate() if gate is None else gate

    def ask(self, text: str, questions: list[str]):
        """The Answer, or None after logging the error: an engine bug must not end the chat.
        Raises BusyError when no answering slot frees up in time."""
        with self.gate.slot():
            try:
                return self.assistant.ask(text, list(questions))
            except Exception:
                log.exception("answering %r failed", text[:200])
                return None

    def take_message(self, message, chat):
        """Show the user's message at once and clear the box; ignore an empty one."""
        text, _ = prepare_message(message)
        if not text:
            return "", chat, ""
        return "", chat + [{"role": "user", "content": render_question(text)}], message

    def answer_pending(self, pending, chat, questions, turns):
        """Answer the message take_message queued, with this session's earlier questions."""
        text, note = prepare_message(pending)
        if not text:
            return chat, questions, turns
        try:
            answer = self.ask(text, questions)
        except BusyError:
            return chat + [{"role": "assistant", "content": render_busy()}], questions, turns
        if answer is None:
            return chat + [{"role": "assistant", "content": render_error(note)}], questions, turns
        age = self.source_age_years
        reply = {"role": "assistant", "content": render_answer(answer, note, list_suggestions=False, source_age_years=age)}
        if answer.abstained and answer.suggestions:
            reply["options"] = [{"value": s} for s in answer.suggestions]
        # The answer as JSON, so a vote can be saved after a reload too.
        turns = turns + [{"index": len(chat), "question": text, "history": list(questions), "answer": answer.to_json()}]
        if answer.usable:
            questions = questions + [text]
        return chat + [reply], questions, turns

    def respond(self, message, chat, questions, turns):
        """The question's bubble first, then its answer; the conversation is saved in the browser."""
        _, shown, pending = self.take_message(message, chat)
        if not pending:
            yield chat, questions, turns, gr.skip()
            return
        yield shown, questions, turns, gr.skip()
        chat, questions, turns = self.answer_pending(pending, shown, questions, turns)
        yield chat, questions, turns, to_browser(chat, questions, turns)

    def on_like(self, turns, evt: gr.LikeData) -> str:
        """The thumbs-up/down event of the chat: the result is shown under the chat, not in a toast."""
        return feedback_note(self.rate(turns, evt.index, evt.liked))

    def rate(self, turns, index, liked) -> str:
        """Append a vote to the feedback file; 'up', 'down', 'failed', 'missing' or 'ignored'."""
        if liked not in (True, False):
            return "ignored"  # a vote taken back: the earlier line stays, as in any log
        index = index[0] if isinstance(index, (list, tuple)) else index
        turn = next((t for t in turns if t["index"] == index), None)
        if turn is None:
            return "missing"
        vote = "up" if liked else "down"
        try:
            record_feedback(self.feedback_path, turn["question"], turn["history"], turn["answer"], vote)
        except FeedbackError as exc:
            log.error("feedback not saved: %s", exc)
            return "failed"
        return vote

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


def new_conversation():
    """Empty chat, history, turns, box, feedback note, and an empty conversation kept in the browser."""
    # An empty conversation, not None: the browser only writes a value that is set.
    return [], [], [], "", "", {"chat": [], "questions": [], "turns": []}


FEEDBACK_NOTES = {
    "up": "Thank you, your feedback was saved.",
    "down": "Thank you, your feedback was saved.",
    "failed": "Sorry, your feedback could not be saved. The chat still works.",
    "missing": "There is no answer to rate there.",
    "ignored": "",
}


def feedback_note(result: str) -> str:
    """The line under the chat after a vote (HTML; empty when there is nothing to say)."""
    text = FEEDBACK_NOTES[result]
    return f'<p class="qa-feedback">{text}</p>' if text else ""


def to_browser(chat, questions, turns) -> dict:
    """What the browser keeps of a conversation: its newest messages and what a vote needs."""
    drop = max(0, len(chat) - KEPT_MESSAGES)
    drop += drop % 2  # never keep an answer without its question
    kept = [t | {"index": t["index"] - drop} for t in turns if t["index"] >= drop]
    return {"chat": [plain_message(m) for m in chat[drop:]], "questions": list(questions), "turns": kept}


def plain_message(message: dict) -> dict:
    """A chat message as {"role", "content": HTML text, "options"?}: the chat hands earlier
    messages back with their content as a list of parts."""
    content = message["content"]
    if not isinstance(content, str):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    plain = {"role": message["role"], "content": content}
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


def _welcome(assistant) -> str:
    """WELCOME, with who wrote the sources (the metadata's publishers) before the reminder."""
    line = sources_line(chunk.publisher for chunk in assistant.index.chunks)
    intro, reminder = WELCOME.rsplit("\n\n", 1)
    return f"{intro}\n\n{line}\n\n{reminder}" if line else WELCOME


def build_app(assistant, feedback_path: Path | str) -> gr.Blocks:
    """The chat UI and the `/chat` API endpoint around an already loaded assistant."""
    h = Handlers(assistant, feedback_path, source_age_years=assistant.settings.source_age_years)
    private = dict(api_visibility="private")
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(HEADER, elem_id="qa-header")
        questions, turns = gr.State([]), gr.State([])
        saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_KEY_CIPHER)
        chat = gr.Chatbot(
            label="Conversation", show_label=False, height="62vh", min_height=360, buttons=[], latex_delimiters=[],
            placeholder=_welcome(assistant), examples=[{"text": q} for q in EXAMPLES], elem_id="qa-chat",
            group_consecutive_messages=False, layout="bubble", autoscroll=False,  # web/chat.js scrolls
        )
        gr.HTML(STATUS_BAR, elem_id="qa-bar", padding=False)  # filled in by web/chat.js
        note = gr.HTML("", elem_id="qa-feedback-note", padding=False)
        box = gr.Textbox(
            label="Your question", show_label=False, placeholder="Ask about bone metastasis…", lines=1, max_lines=6,
            submit_btn="Ask", autofocus=True, elem_id="qa-box",
        )
        with gr.Row():
            new = gr.Button("New conversation", variant="secondary", size="sm", scale=0, min_width=180, elem_id="qa-new")
        gr.Markdown(FOOTER, elem_classes=["qa-footer"])

        # One event for every question: a question sent while another is answered
        # waits in the box and is sent when the answer lands (always_last). The
        # box is emptied in the browser as the question leaves, never later.
        box.submit(
            h.respond, [box, chat, questions, turns], [chat, questions, turns, saved], js=CLEAR_BOX_JS,
            trigger_mode="always_last", show_progress="minimal", **private,
        )
        chat.like(h.on_like, [turns], [note], show_progress="hidden", **private)
        reset = [chat, questions, turns, box, note, saved]
        new.click(new_conversation, None, reset, queue=False, **private)
        chat.clear(new_conversation, None, reset, queue=False, **private)
        demo.load(from_browser, [saved], [chat, questions, turns], queue=False, **private)
        gr.api(h.chat_api, api_name="chat")
    # Gradio's queue passes every request on at once (a full Gradio queue is a raw
    # "Queue is full" error); the Gate (qa/apps/server.py) lets 8 answer at a time and
    # tells the rest, after BUSY_AFTER_S, that the assistant is busy.
    demo.queue(default_concurrency_limit=None, max_size=None)
    default_missing_history(demo)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, extra_hosts: tuple = ()):
    """Serve the app; with block=False return once it is listening, else serve until Ctrl-C.
    `extra_hosts`: names besides this machine's that requests may be addressed to."""
    guard = Middleware(WebGuard, allowed=allowed_hosts(host, tuple(extra_hosts)))  # outermost: checks every route
    return demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=not block, css_paths=[WEB / "chat.css"],
        head=f"<script>{(WEB / 'chat.js').read_text(encoding='utf-8')}</script>", theme=THEME, show_error=False,
        footer_links=["api"], run_history=False, enable_monitoring=False, ssr_mode=False, pwa=False,
        mcp_server=False, quiet=True, app_kwargs={"middleware": [guard, Middleware(NoUploads)]}, max_file_size=1,
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
    demo = build_app(assistant, settings.feedback_path)
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

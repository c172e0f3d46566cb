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

from qa.chat import (  # noqa: E402
    APOLOGY,
    FeedbackError,
    prepare_message,
    record_feedback,
    render_answer,
    render_error,
    render_question,
    to_plain,
)
from qa.errors import BusyError  # noqa: E402
from qa.server import BUSY, Gate, NoUploads, api_problem, check_address, default_missing_history, port_number  # noqa: E402

log = logging.getLogger("qa.app")
TITLE = "Bone metastasis Q&A"
EXAMPLES = [
    "What is bone metastasis?",
    "Which cancers spread to the bone most often?",
    "What is Xgeva (denosumab)?",
    "How is bone pain managed?",
    "What are the signs of spinal cord compression?",
    "What foods are good for my bones?",
]
HEADER = f"""# {TITLE}
Answers copied word for word from trusted patient-education pages, each with its source. **Not medical advice.**"""
WELCOME = """**Ask about bone metastasis** in your own words, for yourself or someone you care for.

**What this is:** answers quoted word for word from trusted patient-education pages, each with its source. Follow-ups ("what are its side effects?") use the conversation. When the sources don't cover a question, it says so.

**What it is not:** a doctor, or advice about your own care. Talk to your care team; in an emergency, call your local emergency number."""
FOOTER = (
    "Rate an answer with the thumbs-up or thumbs-down button under it: that saves your question and the answer "
    "(nothing else) to help improve the assistant. Enter sends; Shift+Enter adds a new line."
)
# System fonts: nothing to download, and the same look on every machine.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"])
CSS = """
.gradio-container { max-width: 920px !important; margin: 0 auto !important; }
.gradio-container .main { padding-left: clamp(6px, 2.5vw, 32px) !important; padding-right: clamp(6px, 2.5vw, 32px) !important; }
.qa-answer p, .qa-question { margin: 0 0 .5em; }
.qa-answer p:last-child { margin-bottom: 0; }
.qa-urgent { border: 2px solid #b91c1c; border-left-width: 10px; background: #fef2f2; border-radius: 6px;
  padding: .6em .8em; margin-bottom: .8em; }
.qa-urgent, .qa-urgent p, .qa-urgent strong, .qa-urgent sup { color: #7f1d1d !important; }
.qa-urgent-title { font-size: 1.05em; text-transform: none; }
.qa-note { font-style: italic; }
.qa-confidence, .qa-disclaimer, .qa-suggest, .qa-footer p { color: var(--body-text-color) !important; opacity: .85; }
.qa-confidence { font-size: .9em; }
.qa-disclaimer { font-size: .85em; margin-top: .8em !important; }
.qa-sources-title { font-weight: 600; margin-top: .6em !important; }
.qa-source { border: 1px solid #9ca3af; border-radius: 6px; padding: .3em .6em; margin: .35em 0; }
.qa-source summary { cursor: pointer; padding: .15em 0; }
.qa-source summary:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.qa-quote { margin: .4em 0 .2em !important; padding-left: .7em; border-left: 3px solid #9ca3af; }
.qa-quote mark { background: #fde68a; color: #111827; padding: 0 .1em; }
.qa-ref { font-size: .8em; white-space: nowrap; }
.qa-footer { font-size: .85em; }
#qa-chat .prose.chatbot.md { opacity: 1; }  /* Gradio fades all messages to 0.8: keep full contrast */
#qa-chat button[aria-label="Clear"] { display: none; }  /* "New conversation" does this, and never covers a message */
@media (max-width: 480px) {
  #qa-chat .message-row { margin-left: 4px !important; margin-right: 4px !important; max-width: 100% !important; }
}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the bone metastasis Q&A chat in the browser.")
    parser.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1, or $QA_HOST); 0.0.0.0 opens it to your network")
    parser.add_argument("--port", type=port_number, default=os.environ.get("QA_PORT", "7860"),
                        help="port (default 7860, or $QA_PORT)")
    parser.add_argument("--feedback", type=Path, default=Path(os.environ.get("QA_FEEDBACK", "feedback/feedback.jsonl")),
                        help="where thumbs-up/down votes are appended as JSON lines (default feedback/feedback.jsonl, or $QA_FEEDBACK)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/ or $QA_CORPUS)")
    parser.add_argument("--index", type=Path, help="index folder (default: index/ or $QA_INDEX)")
    return parser.parse_args(argv)


def render_busy() -> str:
    """The chat reply when every slot stayed taken."""
    return f'<div class="qa-answer"><p class="qa-error">{escape(BUSY)}</p></div>'


class Handlers:
    """The chat's event handlers around one loaded assistant, shared by all sessions."""

    def __init__(self, assistant, feedback_path: Path | str, gate: Gate | None = None) -> None:
        self.assistant = assistant
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

    def take_selected(self, chat, evt: gr.SelectData):
        """An example or a suggested question was clicked: ask it."""
        value = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value or "")
        return self.take_message(value, chat)[1:]

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
        reply = {"role": "assistant", "content": render_answer(answer, note, list_suggestions=False)}
        if answer.abstained and answer.suggestions:
            reply["options"] = [{"value": s} for s in answer.suggestions]
        turns = turns + [{"index": len(chat), "question": text, "history": list(questions), "answer": answer}]
        if not self.assistant.problem_with(text):
            questions = questions + [text]
        return chat + [reply], questions, turns

    def on_like(self, turns, evt: gr.LikeData) -> None:
        """The thumbs-up/down event of the chat."""
        self.rate(turns, evt.index, evt.liked)

    def rate(self, turns, index, liked) -> str:
        """Append a vote to the feedback file and tell the user; 'up', 'down', 'failed' or 'ignored'."""
        if liked not in (True, False):
            return "ignored"  # a vote taken back: the earlier line stays, as in any log
        index = index[0] if isinstance(index, (list, tuple)) else index
        turn = next((t for t in turns if t["index"] == index), None)
        if turn is None:
            gr.Info("There is no answer to rate there.")
            return "ignored"
        vote = "up" if liked else "down"
        try:
            record_feedback(self.feedback_path, turn["question"], turn["history"], turn["answer"], vote)
        except FeedbackError as exc:
            log.error("feedback not saved: %s", exc)
            gr.Warning("Sorry, your feedback could not be saved. The chat still works.")
            return "failed"
        gr.Info("Thank you, your feedback was saved.")
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
        return to_plain(answer, note)


def new_conversation():
    """Empty chat, history, turns, pending message and box."""
    return [], [], [], "", ""


def build_app(assistant, feedback_path: Path | str) -> gr.Blocks:
    """The chat UI and the `/chat` API endpoint around an already loaded assistant."""
    h = Handlers(assistant, feedback_path)
    private = dict(api_visibility="private")
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(HEADER)
        questions, turns, pending = gr.State([]), gr.State([]), gr.State("")
        chat = gr.Chatbot(
            label="Conversation", show_label=False, height="62vh", min_height=360, buttons=[], latex_delimiters=[],
            placeholder=WELCOME, examples=[{"text": q} for q in EXAMPLES], elem_id="qa-chat",
            group_consecutive_messages=False, layout="bubble",
        )
        box = gr.Textbox(
            label="Your question", show_label=False, placeholder="Ask about bone metastasis…", lines=1, max_lines=6,
            submit_btn="Ask", autofocus=True, elem_id="qa-box",
        )
        with gr.Row():
            new = gr.Button("New conversation", variant="secondary", size="sm", scale=0, min_width=180, elem_id="qa-new")
        gr.Markdown(FOOTER, elem_classes=["qa-footer"])

        answer = dict(fn=h.answer_pending, inputs=[pending, chat, questions, turns], outputs=[chat, questions, turns],
                      show_progress="minimal", **private)
        box.submit(h.take_message, [box, chat], [box, chat, pending], queue=False, **private).then(**answer)
        chat.example_select(h.take_selected, [chat], [chat, pending], queue=False, **private).then(**answer)
        chat.option_select(h.take_selected, [chat], [chat, pending], queue=False, **private).then(**answer)
        chat.like(h.on_like, [turns], None, **private)
        reset = [chat, questions, turns, pending, box]
        new.click(new_conversation, None, reset, queue=False, **private)
        chat.clear(new_conversation, None, reset, queue=False, **private)
        gr.api(h.chat_api, api_name="chat")
    # Gradio's queue passes every request on at once (a full Gradio queue is a raw
    # "Queue is full" error); the Gate (qa/server.py) lets 8 answer at a time and
    # tells the rest, after BUSY_AFTER_S, that the assistant is busy.
    demo.queue(default_concurrency_limit=None, max_size=None)
    default_missing_history(demo)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Serve the app; with block=False return once it is listening, else serve until Ctrl-C."""
    return demo.launch(
        server_name=host, server_port=port, prevent_thread_lock=not block, css=CSS, theme=THEME, show_error=False,
        footer_links=["api"], run_history=False, enable_monitoring=False, ssr_mode=False, pwa=False,
        mcp_server=False, quiet=True, app_kwargs={"middleware": [Middleware(NoUploads)]}, max_file_size=1,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.INFO)  # no library debug chatter
    logging.getLogger("qa").setLevel(logging.INFO)
    from qa.errors import QAError
    from qa.pipeline import Assistant
    from qa.settings import Settings

    try:
        check_address(args.host, args.port)
        settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)
        print(f"Loading the assistant (index folder {settings.index_dir}/, built first if missing or out of date)...", flush=True)
        assistant = Assistant.load(settings, progress=True)
    except (QAError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = build_app(assistant, args.feedback)
    try:
        launch(demo, args.host, args.port, block=False)
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

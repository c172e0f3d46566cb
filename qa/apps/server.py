"""Guards of the web chat (app.py): the host and port checked before anything
loads, a gate that turns a full house into a 'busy' reply, the /chat argument
check, and the refusal of uploads. Gradio is only imported where it is used.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import socket
import threading

from qa.errors import AddressError, BusyError

CONCURRENCY = 8  # answers are ~10 ms of CPU each; more threads only contend
BUSY_AFTER_S = 10.0  # a request that waits this long for one of the CONCURRENCY slots is told the chat is busy
BUSY = "The assistant is busy; please try again in a moment."
MAX_API_HISTORY = 50  # earlier questions a /chat call may send


def port_number(text: str) -> int:
    """--port / QA_PORT: a whole number from 1 to 65535, checked before anything loads."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535 (--port or QA_PORT), got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535 (--port or QA_PORT), got {port}")
    return port


def check_address(host: str, port: int) -> None:
    """Bind host:port once and let go, so a bad host or a taken port is reported
    in a second, not after the assistant has loaded; raises AddressError."""
    if not host.strip():
        raise AddressError("the host is empty (--host or QA_HOST): use 127.0.0.1, or 0.0.0.0 to open the chat to your network")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressError(f"cannot listen on host {host!r}: no such address on this machine; check --host or QA_HOST") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            reasons = {
                errno.EADDRINUSE: f"port {port} is already in use: try another --port",
                errno.EADDRNOTAVAIL: f"{host} is not an address of this machine: check --host or QA_HOST",
                errno.EACCES: f"no permission to listen on port {port} (ports below 1024 need root): try another --port",
            }
            reason = reasons.get(exc.errno, f"{exc.strerror}: check --host and --port")
            raise AddressError(f"cannot listen on {host}:{port}: {reason}") from exc


class Gate:
    """At most `slots` answers at once; a request that cannot get a slot within
    `wait_s` seconds raises BusyError instead of waiting on (or a raw queue error)."""

    def __init__(self, slots: int = CONCURRENCY, wait_s: float = BUSY_AFTER_S) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.wait_s = wait_s

    @contextlib.contextmanager
    def slot(self):
        if not self._slots.acquire(timeout=self.wait_s):
            raise BusyError(BUSY)
        try:
            yield
        finally:
            self._slots.release()


def api_problem(message, history) -> str:
    """Why a /chat call's arguments are unusable, in plain words, or ''."""
    def kind(value) -> str:
        names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
        return names.get(type(value), "null" if value is None else type(value).__name__)

    if not isinstance(message, str):
        return f"message must be text (a string), got {kind(message)}"
    if history is None:
        return ""
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        what = kind(history) if not isinstance(history, list) else "a list holding something else"
        return f"history must be a list of the earlier questions (strings), oldest first; got {what}"
    if len(history) > MAX_API_HISTORY:
        return f"history may hold at most {MAX_API_HISTORY} earlier questions, got {len(history)}"
    return ""


def default_missing_history(demo) -> None:
    """A raw /chat call with the message alone gets history=None, as a Python call
    would; Gradio would otherwise fail it before Handlers.chat_api runs, with an
    error event that has no message. (gradio_client fills the default itself.)"""
    import gradio as gr

    validate = demo.validate_inputs

    def validate_inputs(block_fn, inputs):
        if getattr(block_fn, "api_name", None) == "chat" and len(inputs) < len(block_fn.inputs):
            if not inputs:
                raise gr.Error("message must be text (a string), got nothing", print_exception=False)
            inputs.extend([None] * (len(block_fn.inputs) - len(inputs)))
        validate(block_fn, inputs)

    demo.validate_inputs = validate_inputs


class NoUploads:
    """ASGI middleware refusing Gradio's upload route: the chat takes no files,
    so no one can store a file on the server and have it served back."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith("/upload"):
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("This chat does not accept files.", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

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


# --- the web surface: headers, Host and Origin checks, a body cap ---------------

MAX_BODY_BYTES = 1_000_000  # a message and 50 earlier ones are tens of KB; anything far bigger is not a chat
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
# Fitted to the page: Gradio's own scripts and styles (some inline, as is our
# web/chat.js; Gradio's front end also evaluates strings, so 'unsafe-eval'),
# nothing from another site, never inside another site's frame.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
API_DOCS = ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect")


def allowed_hosts(bound: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The host names a request may be addressed to: the bound host, this
    machine's own names, and the ones the settings add (QA_ALLOWED_HOSTS)."""
    names = {bound, *LOCAL_NAMES, socket.gethostname(), *extra}
    return frozenset(n.strip().lower().strip("[]") for n in names if n and n.strip())


def _hostname(value: str) -> str:
    """'example.org:7860' -> 'example.org'; '[::1]:7860' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """A request's Host is one of the allowed names, or an IP address: DNS
    rebinding needs a name the attacker controls, an address cannot be rebound."""
    import ipaddress

    name = _hostname(host)
    if name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(origin: str, host: str) -> bool:
    """A browser's Origin must be the page's own: same host name as the request
    (scheme and port aside), so no other website can drive the chat."""
    from urllib.parse import urlsplit

    if not origin or origin == "null":
        return not origin  # a sandboxed or file page sends "null": never ours
    try:
        name = urlsplit(origin).hostname or ""
    except ValueError:
        return False
    return name == _hostname(host)


class WebGuard:
    """ASGI middleware in front of the whole app: refuses a request addressed to
    another host name (DNS rebinding) or sent from another website's page,
    caps request bodies, hides the API docs, and adds the security headers to
    every response."""

    def __init__(self, app, allowed: frozenset[str], max_body: int = MAX_BODY_BYTES, api_docs: bool = False) -> None:
        self.app = app
        self.allowed = allowed
        self.max_body = max_body
        self.api_docs = api_docs

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        refusal = None
        if not host_allowed(host, self.allowed):
            refusal = (421, f"This chat does not answer to the name {_hostname(host)[:100]!r}; open it by its own address.")
        elif "origin" in headers and not origin_allowed(headers["origin"], host):
            refusal = (403, "Requests from other websites are refused.")
        elif not self.api_docs and scope["path"].rstrip("/") in API_DOCS:
            refusal = (404, "Not found.")
        elif _declared_length(headers) > self.max_body:
            refusal = (413, f"The request is larger than {self.max_body // 1000} KB.")
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _plain(send, *refusal)
            return

        if scope["type"] == "http" and scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
            # The whole body is read here, counted, and handed on: a body sent
            # without its length (chunked) is capped as surely as a declared one.
            body = await _read_body(receive, self.max_body)
            if body is None:
                await _plain(send, 413, f"The request is larger than {self.max_body // 1000} KB.")
                return
            receive = _replay(body, receive)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                ours = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
                message = {**message, "headers": kept + list(SECURITY_HEADERS)}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)  # the client went away: the app sees an empty body and then the disconnect
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


def _declared_length(headers: dict[str, str]) -> int:
    try:
        return int(headers.get("content-length", "0") or 0)
    except ValueError:
        return 0


async def _plain(send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS,
    ]})
    await send({"type": "http.response.body", "body": body})

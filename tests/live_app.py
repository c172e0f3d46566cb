"""Serving app.py's Blocks in-process on a free local port, for the live-app tests."""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Gradio's queue statistics use pandas APIs that pandas 3 deprecates: not ours to fix.
QUIET_GRADIO = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(assistant, feedback_path: Path):
    """Yield the URL of app.py's chat around `assistant`; close it afterwards."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    demo = app.build_app(assistant, feedback_path)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()

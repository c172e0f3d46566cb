"""Extractive, cited question answering about bone metastasis.

    >>> from qa import Assistant
    >>> Assistant.load().ask("what is xgeva?").text

Importing `qa` is light: torch, transformers and faiss load on first use.
"""

from qa.data import Answer, AnswerUnit, Chunk, Citation, Document, Passage, Span, Unit
from qa.settings import Settings

__all__ = ["Answer", "AnswerUnit", "Assistant", "Chunk", "Citation", "Document", "Passage", "Settings", "Span", "Unit"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The pipeline pulls in numpy and friends; load it only when asked for.
    if name == "Assistant":
        from qa.answering.assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'qa' has no attribute {name!r}")

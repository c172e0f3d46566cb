r"""User text as the assistant reads it, normalised once where it comes in
(command line, terminal chat, batch files, the browser chat and its API).

    >>> normalise_text("what is bone\u200bmets\udcff?")
    'what is bonemets\ufffd?'
"""

from __future__ import annotations

import unicodedata


def normalise_text(text: str) -> str:
    """Lone surrogates and undecodable bytes become U+FFFD, then NFKC, then
    invisible format characters (zero-width spaces and joiners, soft hyphens,
    byte-order marks, direction marks) are removed."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    # A lone surrogate (JSON "\ud800", or a byte Python could not decode) cannot
    # be encoded and crashes the tokenizer; a valid pair is joined into one character.
    if text.isascii():
        return text  # nothing to do, and most questions are plain ASCII
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def norm(text: str) -> str:
    """Case and whitespace folded, for matching gold spans."""
    return " ".join(text.lower().replace("’", "'").replace("“", '"').replace("”", '"').split())

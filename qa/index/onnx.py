"""ONNX Runtime sessions and tokenizers for exported models (the embedder here,
the reader in qa.answering.reader): loaded once, without torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.errors import ModelNotFoundError


def open_session(weights: Path, threads: int, command: str):
    """An ONNX Runtime session on the CPU; a missing or damaged file names itself and the fix."""
    import onnxruntime

    if not weights.is_file():
        raise ModelNotFoundError(f"{weights} is missing: run `{command}` or restore the file from git")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads would hold the cores the other stages need between calls.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The int8 weights meet uint8 activations. On an x86 CPU without VNNI (AVX2 alone, as on
    # this project's 2-core machine) ONNX Runtime's fast u8 x s8 kernel adds products in 16
    # bits and saturates: the reader's logits moved by 0.3 on average (up to 1.1), dev answer
    # accuracy fell from 0.897 to 0.881. This option has ONNX Runtime run such weights as
    # u8 x u8 there (exact, slower) and changes nothing on VNNI CPUs. The reader is now
    # exported with 7-bit weights (`qa.training.export`), which the fast kernel adds without
    # saturating, so ONNX Runtime keeps the fast kernel for it; the embedder's are 8-bit.
    options.add_session_config_entry("session.x64quantprecision", "1")
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for a damaged graph
        raise ModelNotFoundError(f"cannot load {weights} ({exc}): run `{command}` or restore it from git") from exc


def open_tokenizer(path: Path, max_length: int, command: str):
    """The `tokenizers` tokenizer saved beside the weights, truncating as in training."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing: run `{command}` or restore the file from git")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a damaged file
        raise ModelNotFoundError(f"cannot read {path} ({exc}): run `{command}` or restore it from git") from exc
    tokenizer.no_padding()  # batch_feeds pads to the batch's longest
    # Longest first: a pair that does not fit loses tokens from its longer side,
    # so a 2,000-character message still reaches the reader with its unit whole.
    tokenizer.enable_truncation(max_length, strategy="longest_first")
    return tokenizer


def batch_feeds(encodings) -> dict[str, np.ndarray]:
    """Token ids padded to the longest in the batch, as the exported graphs take them."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(encodings):
        n = len(e.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

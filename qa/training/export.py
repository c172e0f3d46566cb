"""Export trained torch weights for ONNX Runtime, int8 with per-channel dynamic
quantisation: what the answer path runs, so torch stays off it (cold start is
dominated by loading torch; the int8 graph runs in about a third of its time).

Used by `qa train` and `qa train-reader` (not a doctest: it writes the shipped models):

    export_embedder(Path(".cache/train/final"), Path("models/bonemets-minilm"))
    export_reader(model, tokenizer, Path("models/reader"))
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from qa.answering.reader import TOKENIZER_FILE, WEIGHTS_FILE
from qa.files import file_sha256
from qa.index.embed import EMBEDDER_FILE, ONNX_FORMAT

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def _quantised(model, sample, output: str, out_file: Path, reduce_range: bool = False) -> None:
    """torch model -> float ONNX (opset 17) -> int8 per-channel `out_file`
    (weights within -64..64 with `reduce_range`)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as work:
        plain = Path(work) / "model.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                model, tuple(sample[n] for n in INPUTS), str(plain), dynamo=False, opset_version=17,
                input_names=INPUTS, output_names=[output],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, output: {0: "batch"}},
            )
        quantize_dynamic(str(plain), str(out_file), per_channel=True, reduce_range=reduce_range, weight_type=QuantType.QInt8)


def export_reader(model, tokenizer, folder: Path, reduce_range: bool = True) -> None:
    """The cross-encoder's model.onnx and tokenizer.json in `folder` (full 8-bit
    weights with `reduce_range=False`, as readers were exported before 2026-12-05)."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["a question"] * 2, ["a unit [SEP] title | section | before"] * 2, return_tensors="pt", padding=True)
    # Weights in 7 bits: two products of a u8 activation and a weight within -64..64 fit
    # the 16 bits the AVX2 u8 x s8 kernel adds them in, so ONNX Runtime runs its fast
    # kernel exactly on CPUs without VNNI too (full 8-bit weights needed the slower
    # u8 x u8 path there, `qa.index.onnx`). A 46-token pair: 12.1 -> 8.2 ms on one
    # thread of the AVX2 machine; dev, test and the blind leaflet sets moved by a
    # question or two either way (eval/report.md, 2026-12-05).
    _quantised(model.eval(), sample, "logits", folder / WEIGHTS_FILE, reduce_range=reduce_range)
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))


def _token_vectors(model):
    """The transformer with its token vectors as the one output (mean pooling runs in numpy)."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    return TokenVectors(model)


def export_embedder(source: Path, folder: Path) -> None:
    """A sentence-transformers model folder (mean pooling, normalised) as
    model.onnx, tokenizer.json and embedder.json in `folder`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True, dtype=torch.float32, attn_implementation="eager")
    sample = tokenizer(["a question", "a longer question about bones"], return_tensors="pt", padding=True)
    _quantised(_token_vectors(model.eval()), sample, "tokens", folder / "model.onnx")
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    max_length = int(min(tokenizer.model_max_length, 512))
    card = {
        "format": ONNX_FORMAT, "pooling": "mean", "normalize": True, "max_length": max_length,
        "dimension": int(model.config.hidden_size), "exported from": str(source),
        "sha256": {name: file_sha256(folder / name) for name in ("model.onnx", "tokenizer.json")},
    }
    (folder / EMBEDDER_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def reduce_weight_range(source: Path, target: Path) -> int:
    """Requantise an int8 per-channel graph's matrix weights to -64..64, as
    `reduce_range` exports them: how the reader exported with full 8-bit
    weights (its float weights no longer kept) was brought to 7 bits. Returns
    the number of weight matrices changed."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    tensors = {t.name: t for t in model.graph.initializer}
    changed = 0
    for node in model.graph.node:
        weights = node.input[1] if node.op_type == "MatMulInteger" else ""
        scales = weights.removesuffix("_quantized") + "_scale"
        if weights not in tensors or scales not in tensors:
            continue
        real = numpy_helper.to_array(tensors[weights]).astype(np.float64) * numpy_helper.to_array(tensors[scales])
        largest = np.abs(real).max(axis=0)
        scale = np.where(largest > 0, largest / 64.0, 1.0)  # symmetric, zero point 0, as quantize_dynamic
        quantised = np.clip(np.round(real / scale), -64, 64).astype(np.int8)
        tensors[weights].CopyFrom(numpy_helper.from_array(quantised, weights))
        tensors[scales].CopyFrom(numpy_helper.from_array(scale.astype(np.float32), scales))
        changed += 1
    onnx.save(model, str(target))
    return changed

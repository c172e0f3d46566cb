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


def _quantised(model, sample, output: str, out_file: Path) -> None:
    """torch model -> float ONNX (opset 17) -> int8 per-channel `out_file`."""
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
        quantize_dynamic(str(plain), str(out_file), per_channel=True, weight_type=QuantType.QInt8)


def export_reader(model, tokenizer, folder: Path) -> None:
    """The cross-encoder's model.onnx and tokenizer.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["a question"] * 2, ["a unit [SEP] title | section | before"] * 2, return_tensors="pt", padding=True)
    _quantised(model.eval(), sample, "logits", folder / WEIGHTS_FILE)
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

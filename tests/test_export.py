"""Exported models: the ONNX embedding model gives the sentence-transformers
vectors (int8, so nearly), and a tampered or missing file is refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.errors import ModelNotFoundError
from qa.index.embed import EMBEDDER_FILE, Embedder, bundled_model_path

pytestmark = pytest.mark.slow
TEXTS = ["bone pain at night", "What is Xgeva and why is it given?", "my dad's legs feel weak and numb", "hi"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from qa.training.export import export_embedder

    folder = tmp_path_factory.mktemp("exported")
    export_embedder(bundled_model_path(), folder)
    return folder


def test_the_onnx_export_gives_the_torch_models_vectors(exported):
    torch_vectors = Embedder(bundled_model_path()).encode(TEXTS)
    onnx = Embedder(exported)
    vectors = onnx.encode(TEXTS)
    assert vectors.shape == torch_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * torch_vectors).sum(axis=1).min() > 0.97  # int8 weights: close, not equal
    # The int8 graph quantises its activations per batch, padding included: a text
    # batched with a long one moved (cosine 0.99). Each is read alone, so a text's
    # vector is the same beside any others, and the same as the query's vector.
    beside_long = onnx.encode([*TEXTS, "a long passage about bone metastases " * 12])
    for row, text in enumerate(TEXTS):
        assert np.allclose(onnx.encode([text])[0], beside_long[row], atol=1e-6)
        assert np.allclose(onnx.encode_query(text), vectors[row], atol=1e-6)
    assert onnx.dimension == 384


def test_a_tampered_export_is_refused_with_the_file_named(exported, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes()[:-10])
    with pytest.raises(ModelNotFoundError, match="model.onnx is missing or not the file"):
        Embedder(copy).encode(["x"])
    card = json.loads((exported / EMBEDDER_FILE).read_text())
    (copy / EMBEDDER_FILE).write_text(json.dumps({**card, "pooling": "cls"}))
    with pytest.raises(ModelNotFoundError, match="cannot read"):
        Embedder(copy).encode(["x"])


def test_embedding_for_an_index_build_shows_its_progress(exported, capsys):
    """A 20 MB file embeds for many minutes: `qa index` shows a bar counted in
    characters (issue 22, item 7), never silence."""
    Embedder(exported).encode(TEXTS * 20, progress=True)
    err = capsys.readouterr().err
    assert "embedding:   0%" in err and "embedding: 100%" in err


@pytest.fixture(scope="module")
def exported_reader(tmp_path_factory):
    """A cross-encoder exported as `qa train-reader` exports one (its head untrained: the base weights)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from qa.answering.reader import OnnxReader
    from qa.training.export import export_reader

    folder = tmp_path_factory.mktemp("reader")
    path = str(bundled_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, local_files_only=True)
    export_reader(model, tokenizer, folder)
    return OnnxReader(folder, threads=1, weights_sha256=""), model, tokenizer


def test_a_units_score_does_not_depend_on_the_units_read_beside_it(exported_reader):
    """int8 activations are quantised per tensor: in a padded batch a unit's
    score moved with its neighbours. Read alone, it is the same every time."""
    import torch

    reader, model, tokenizer = exported_reader
    question = "what does zometa do?"
    texts = ["Zometa slows the breakdown of bone. [SEP] Drugs | Bisphosphonates | ", TEXTS[0], TEXTS[2] * 5]
    together = reader.score(question, texts)
    alone = np.array([reader.score(question, [t])[0] for t in reversed(texts)])[::-1]
    assert together.shape == (3,) and together.dtype == np.float32
    assert np.array_equal(together, alone)
    # Read two at a time on two threads (as served): the same scores, in order.
    two = type(reader)(reader.folder, threads=2, weights_sha256="")
    assert np.array_equal(two.score(question, texts), together)
    with torch.inference_mode():
        feeds = tokenizer([question] * 3, texts, truncation="longest_first", max_length=128, padding=True, return_tensors="pt")
        exact = model.eval()(**feeds).logits.reshape(3).numpy()
    assert np.abs(together - exact).max() < 0.25  # int8 weights: close, not equal
    assert reader.score(question, []).shape == (0,)


def _matrix_weights(path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {t.name: t for t in model.graph.initializer}
    return [numpy_helper.to_array(tensors[n.input[1]]) for n in model.graph.node
            if n.op_type == "MatMulInteger" and n.input[1] in tensors]


def test_the_readers_weights_fit_the_fast_kernel_without_saturating(exported_reader, exported):
    """7-bit weights (-64..64): two u8 x weight products fit 16 bits, so the AVX2
    u8 x s8 kernel is exact. The embedder keeps full 8-bit weights."""
    reader = exported_reader[0]
    weights = _matrix_weights(reader.folder / "model.onnx")
    assert len(weights) >= 36  # six layers of six matrices
    assert all(w.dtype == np.int8 and np.abs(w.astype(int)).max() <= 64 for w in weights)
    assert max(np.abs(w.astype(int)).max() for w in _matrix_weights(exported / "model.onnx")) == 127


def test_an_8_bit_reader_brought_to_7_bits_reads_as_before(exported_reader, tmp_path):
    """reduce_weight_range, as the shipped reader exported with 8-bit weights was converted."""
    import shutil

    from qa.training.export import export_reader, reduce_weight_range

    reader, model, tokenizer = exported_reader
    full, seven = tmp_path / "full", tmp_path / "seven"
    export_reader(model, tokenizer, full, reduce_range=False)  # full range, as before
    assert max(np.abs(w.astype(int)).max() for w in _matrix_weights(full / "model.onnx")) == 127
    shutil.copytree(full, seven)
    assert reduce_weight_range(full / "model.onnx", seven / "model.onnx") == len(_matrix_weights(full / "model.onnx"))
    assert all(np.abs(w.astype(int)).max() <= 64 for w in _matrix_weights(seven / "model.onnx"))
    question, texts = "what does zometa do?", ["Zometa slows the breakdown of bone. [SEP] Drugs | Bisphosphonates | ", TEXTS[1]]
    before = type(reader)(full, threads=1).score(question, texts)
    after = type(reader)(seven, threads=1).score(question, texts)
    assert np.abs(after - before).max() < 0.25 and not np.array_equal(after, before)

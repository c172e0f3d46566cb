"""ONNX Runtime sessions (qa.index.onnx): an int8 graph gives the exact integer
result on every x86 CPU, not a saturated one on CPUs without VNNI."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.onnx import open_session


def _quantised_matmul(folder):
    """y = x @ w, quantised as `qa.training.export` quantises: dynamic, per-channel int8."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    w = np.ones((64, 2), dtype=np.float32)  # every weight its channel's largest: int8 127
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(w, "w")],
    )
    plain, out = folder / "plain.onnx", folder / "int8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(plain))
    quantize_dynamic(str(plain), str(out), per_channel=True, weight_type=QuantType.QInt8)
    return out


def test_an_int8_matmul_is_exact_where_the_fast_kernel_would_saturate(tmp_path):
    # One large negative value sets the zero point low, so the rest quantise to 255; two
    # neighbouring products 255 x 127 overflow 16 bits (64,770 > 32,767) in a u8 x s8 kernel.
    x = np.ones((1, 64), dtype=np.float32)
    x[0, 0] = -1.0
    session = open_session(_quantised_matmul(tmp_path), 1, "test")
    y = session.run(None, {"x": x})[0]
    assert y.shape == (1, 2)
    # 62 within the activations' int8 rounding (61.76 here); saturated, it was 0.97 on this machine.
    assert np.allclose(y, x.sum(), atol=1.0), y


def test_a_missing_or_damaged_graph_names_the_file_and_the_fix(tmp_path):
    from qa.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="missing: run `qa train-reader`"):
        open_session(tmp_path / "model.onnx", 1, "qa train-reader")
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelNotFoundError, match="cannot load .*restore it from git"):
        open_session(tmp_path / "model.onnx", 1, "qa train-reader")

"""The arithmetic training runs with, pinned, so that `make train` gives the
same weights on another x86-64 machine.

torch, MKL, oneDNN and OpenBLAS each pick their kernels by the processor, and
by the number of threads: a sum taken in another order rounds otherwise, and
over thousands of training steps that last bit grows into another draw of the
model (the reader's dev answer accuracy moves by 3 to 4 points from one draw to
the next). Measured here on 2026-12-06 (a Xeon with AVX-512), 6 steps of the
reader from the same seed gave other weights under each of: torch's AVX-512
and AVX2 kernels, MKL's AVX-512 and AVX2 paths, oneDNN's, and 1 or 2 threads.
With the settings below the AVX-512 machine gave, bit for bit, the weights of a
run limited to AVX2 (MKL_ENABLE_INSTRUCTIONS=AVX2, ONEDNN_MAX_CPU_ISA=AVX2,
ATEN_CPU_CAPABILITY=avx2), which is what a machine with AVX2 alone runs.

The libraries read these variables once, when they load, so the entry point
sets them before any of them is imported (`pin`), and each training step
checks what it got (`record`) and writes it in the model card. A machine
without AVX2 still trains, with a warning that its weights will differ.
The serving path runs ONNX Runtime and reads none of this.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Every AVX2 machine and every later one can run these paths.
PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own kernels (layer norm, softmax, GELU, AdamW)
    "MKL_CBWR": "AVX2",  # MKL's matrix products: conditional numerical reproducibility
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scikit-learn's (the triage, the answer model)
}
# torch splits a sum by thread: the weights depend on this number, not on the cores.
THREADS = 2


def pin(environ: MutableMapping[str, str]) -> None:
    """Set the pinned variables that are not set already (a person's own choice
    stays, and `record` reports it). Called by the entry point alone."""
    for name, value in PINNED.items():
        environ.setdefault(name, value)


def record(log=None, torch: bool = True) -> dict:
    """What this run's arithmetic is, for the model card, with torch's threads
    fixed first (`torch=False`: the variables alone, for a step without
    torch); `log`, when given, is warned when it is not the pinned one."""
    got: dict = {name: os.environ.get(name, "") for name in PINNED}
    differs = [name for name, value in PINNED.items() if got[name] != value]
    if torch:
        import torch as torch_module

        torch_module.set_num_threads(THREADS)
        got["torch capability"] = torch_module.backends.cpu.get_cpu_capability()
        got["threads"] = torch_module.get_num_threads()
        if got["torch capability"] != "AVX2":
            differs.append(f"torch capability {got['torch capability']}")
    if differs and log is not None:
        log(f"warning: training arithmetic not pinned ({', '.join(differs)}): "
            "the weights will differ from another machine's `make train`")
    got["pinned"] = not differs
    return got

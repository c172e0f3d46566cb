"""Training's arithmetic is pinned, so that `make train` gives the same weights
on another machine (qa.training.numerics)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import qa.apps.cli as cli
from qa.training import numerics

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def unpinned(monkeypatch):
    # delenv records each as unset, so whatever `pin` sets is removed after the test.
    for name in numerics.PINNED:
        monkeypatch.delenv(name, raising=False)


def test_training_commands_pin_the_arithmetic_and_the_others_do_not(monkeypatch, unpinned):
    monkeypatch.setattr(cli, "cmd_list", lambda args: 0)
    assert cli.main(["list"]) == 0
    assert not any(name in os.environ for name in numerics.PINNED)

    import qa.training.train as train

    monkeypatch.setattr(train, "run_train", lambda args, settings: 0)
    assert cli.main(["train"]) == 0
    assert {name: os.environ.get(name) for name in numerics.PINNED} == numerics.PINNED


def test_a_persons_own_setting_stays_and_is_reported(monkeypatch, unpinned):
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    numerics.pin(os.environ)
    assert os.environ["MKL_CBWR"] == "COMPATIBLE" and os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    warnings = []
    got = numerics.record(warnings.append, torch=False)
    assert got["MKL_CBWR"] == "COMPATIBLE" and got["pinned"] is False
    assert warnings and "MKL_CBWR" in warnings[0]


def test_record_fixes_torchs_threads(monkeypatch):
    import torch

    monkeypatch.setattr(numerics, "THREADS", 1)
    before = torch.get_num_threads()
    try:
        assert numerics.record()["threads"] == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# A few steps of the reader from the packaged MiniLM weights, in a fresh process
# (the libraries read the variables when they load); prints a hash of the weights.
TRAIN_A_LITTLE = textwrap.dedent("""
    import hashlib, os, sys
    from qa.training import numerics
    numerics.THREADS = int(sys.argv[1])
    from qa.index.embed import bundled_model_path
    from qa.training.reader import Group, ReaderConfig, train_member
    units = [f"Unit {i} says calcium level {i * 7} is checked." for i in range(40)]
    groups = [Group(f"question {i} about calcium?", tuple(units[(4 * i + j) % 40] for j in range(4)), i % 5 > 0)
              for i in range(16)]
    config = ReaderConfig(epochs=1, groups_per_batch=8, base="bundled", warmup_steps=2)
    model, _ = train_member(groups, bundled_model_path(), config, log=lambda message: None)
    digest = hashlib.sha256()
    for _, weights in sorted(model.state_dict().items()):
        digest.update(weights.detach().numpy().tobytes())
    print(digest.hexdigest())
""")


def weights_hash(env: dict, threads: int = numerics.THREADS) -> str:
    done = subprocess.run([sys.executable, "-c", TRAIN_A_LITTLE, str(threads)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-1]


def test_pinned_training_gives_the_weights_of_a_machine_with_avx2_alone():
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED} | numerics.PINNED
    here = weights_hash(env)
    # What a processor without AVX-512 runs: MKL and oneDNN limited to AVX2.
    assert weights_hash(env | {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}) == here
    # The hash can tell: torch splits its sums by thread, so one thread gives other weights.
    assert weights_hash(env, threads=1) != here

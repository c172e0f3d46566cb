"""The speed benchmark (eval/bench.py) at smoke size, in-process on the shared
real assistant. It checks that the report is complete and its numbers sane;
speed targets live in the benchmark, never here."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "eval" / "bench.py"
SECTIONS = [
    "## Machine",
    "## 1. Warm latency of `ask`",
    "## 2. Throughput",
    "## 3. Cold start",
    "## 4. Index build",
    "## 5. Where the time goes",
    "## 6. Scale: dense search on synthetic corpora",
    "### Exact (IndexFlatIP)",
    "### HNSW",
    "### IVF",
    "### Recommendation",
]


def load_bench():
    """eval/bench.py as a module (eval/ is not a package): its folder on the path, as
    when it runs as a script, for its sibling modules."""
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("qa_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_scale():
    """eval/bench_scale.py, the synthetic-corpus part."""
    load_bench()
    return importlib.import_module("bench_scale")


@pytest.fixture(scope="module")
def smoke(assistant, tmp_path_factory):
    """(results, report text, output folder) of one smoke run."""
    bench = load_bench()
    out = tmp_path_factory.mktemp("bench")
    args = bench.parse_args(["--smoke", "--out", str(out / "bench.md"), "--cache-dir", str(out / "cache")])
    results = bench.run(args, assistant=assistant)
    return results, (out / "bench.md").read_text(encoding="utf-8"), out


def test_report_has_every_section_and_the_plot(smoke):
    _, report, out = smoke
    for heading in SECTIONS:
        assert heading in report, heading
    assert "exact_search_max" in report
    assert (out / "bench_scale.png").stat().st_size > 1000
    assert list((out / "cache").glob("synthetic-*-2000-*.npy")), "synthetic vectors are cached"


def test_latencies_and_throughput_count_every_question_cold(smoke):
    results, _, _ = smoke
    args, n = results["args"], results["n_questions"]
    latency = results["latency"]["all"]
    assert latency["n"] == n * args.repeats and 0 < latency["p50"] <= latency["p95"] <= latency["max"]
    for row in results["throughput"]:
        assert row["questions"] == n * args.repeats, row
    assert {(t["workers"], t["threads"]) for t in results["throughput"]} == {(w, n) for w in (1, 2) for n in (2, 1)}
    assert results["latency"]["all, 1 thread"]["n"] == n * args.repeats
    # Each follow-up timed twice: cold, and right after the questions before it.
    assert results["latency"]["follow-up, in its conversation"]["n"] == results["latency"]["follow-up"]["n"] > 0
    for row in results["throughput"]:
        assert row["qps"] > 0 and row["errors"] == 0, row["first_error"]
    steps = results["breakdown"]
    for key in ("prepare", "embed", "faiss", "bm25", "answer", "ask"):
        assert steps[key] > 0, key
    assert steps["floor_multiple"] > 0


def test_chunking_speed_is_reported_in_mb_per_second(smoke):
    results, report, _ = smoke
    (real,) = results["chunking"]  # the smoke run skips the synthetic document
    assert real["mb"] > 0.05 and real["seconds"] > 0 and real["chunks"] > 100
    assert real["mb_per_s"] == pytest.approx(real["mb"] / real["seconds"])
    assert "Chunking speed" in report and f"{real['mb_per_s']:.2f}" in report


def test_scale_numbers_are_sane(smoke):
    results, _, _ = smoke
    (row,) = results["scale"]["rows"]
    assert row["n"] == 2000
    assert row["exact"]["build_s"] >= 0 and row["exact"]["t1"]["p50"] > 0
    assert row["exact"]["index_bytes"] == 2000 * 384 * 4
    for kind in ("hnsw", "ivf"):
        assert row[kind]["sweep"], kind
        for point in row[kind]["sweep"]:
            assert 0.0 <= point["recall"] <= 1.0
            assert 0 < point["p50"] <= point["p95"]
    recall = [p["recall"] for p in row["hnsw"]["sweep"]]
    assert recall[-1] >= recall[0], "a wider HNSW search never finds fewer true neighbours here"
    assert results["recommendation"]["switch_t1"] > 0


def test_synthetic_vectors_are_unit_length_mixes_and_cached(tmp_path):
    scale = load_scale()
    import numpy as np

    real = np.eye(8, 384, dtype=np.float32)
    first = scale.synthetic_vectors(real, 100, seed=3, cache_dir=tmp_path)
    again = scale.synthetic_vectors(real, 100, seed=3, cache_dir=tmp_path)
    assert first.shape == (100, 384) and np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, again)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    # Most of each vector's energy lies on at most 3 of the real vectors: a mix, not noise.
    energy = np.sort((first @ real.T) ** 2, axis=1)[:, ::-1]
    assert (energy[:, :3].sum(axis=1) > 0.7).all()
    assert (energy[:, 3:].sum(axis=1) < 0.05).all()


def test_switch_point_interpolates_between_sizes():
    scale = load_scale()
    assert scale.crossing([(10_000, 1.0), (100_000, 10.0)], 2.5) == pytest.approx(25_000, rel=0.01)
    assert scale.crossing([(10_000, 4.0)], 2.0) == pytest.approx(5_000)
    assert scale.round_nice(123_456) == 120_000


def test_the_one_thread_run_really_runs_its_models_at_one_thread(assistant):
    bench = load_bench()
    one = bench.one_thread_assistant(assistant)
    assert one.settings.threads == 1 and assistant.settings.threads == 2
    assert one.embedder.threads == 1
    assert one.unit_reader is None or one.unit_reader.threads == 1
    assert one.ask("what is bone metastasis?").text

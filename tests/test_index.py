import hashlib
import json

import numpy as np
import pytest
from conftest import FakeEmbedder

from qa.answering.assistant import Assistant
from qa.errors import (
    AnswerModelError,
    CorruptIndexError,
    IndexNotFoundError,
    StaleIndexError,
)
from qa.index.store import CURRENT, build_index, check_fresh, current_build, load_index


def test_manifest_records_model_corpus_settings_and_versions(tiny_settings):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["model"] == {"name": "fake-hash-64", "dimension": 64, "fingerprint": FakeEmbedder.fingerprint}
    assert set(manifest["files"]) == {"chunks.json", "chunk_vectors.npy", "unit_vectors.npy", "chunks.faiss", "extracted.json"}
    assert manifest["files"]["chunks.json"] == hashlib.sha256((build / "chunks.json").read_bytes()).hexdigest()
    assert manifest["settings"]["chunk_chars"] == 300
    assert len(manifest["corpus_hash"]) == 64
    assert {"faiss-cpu", "sentence-transformers", "numpy"} <= set(manifest["versions"])
    assert manifest["counts"]["chunks"] > 0 and manifest["built_at"].endswith("Z")
    index = load_index(tiny_settings, FakeEmbedder())
    assert index.chunk_vectors.shape == (manifest["counts"]["chunks"], 64)
    assert index.dense.ntotal == manifest["counts"]["chunks"]


def test_missing_index_is_reported(tiny_settings):
    with pytest.raises(IndexNotFoundError, match="qa index"):
        load_index(tiny_settings, FakeEmbedder())


def test_changed_corpus_or_settings_make_the_index_stale(tiny_settings, tiny_corpus):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    check_fresh(tiny_settings, FakeEmbedder())
    with pytest.raises(StaleIndexError, match="other settings"):
        check_fresh(tiny_settings.with_(chunk_chars=400), FakeEmbedder())
    with pytest.raises(StaleIndexError, match="another embedding model"):
        check_fresh(tiny_settings, OtherModel())
    (tiny_corpus / "new.txt").write_text("Swimming\n\nSwimming is gentle exercise.\n", encoding="utf-8")
    with pytest.raises(StaleIndexError, match="changed"):
        check_fresh(tiny_settings, FakeEmbedder())


class OtherModel(FakeEmbedder):
    name = "another-model"


class RetrainedModel(FakeEmbedder):
    """Same name, other weights: what `qa train` makes."""

    fingerprint = hashlib.sha256(b"retrained weights").hexdigest()


def test_a_model_with_other_weights_rebuilds_the_index(tiny_settings):
    Assistant.load(tiny_settings, embedder=FakeEmbedder())
    first = current_build(tiny_settings.index_dir)
    with pytest.raises(StaleIndexError, match="another embedding model"):
        check_fresh(tiny_settings, RetrainedModel())
    # The triage beside the answer model read the old model's vectors: refused until refitted.
    with pytest.raises(AnswerModelError, match="another embedding model"):
        Assistant.load(tiny_settings, embedder=RetrainedModel())
    assistant = Assistant.load(tiny_settings, embedder=RetrainedModel(), triage=False)
    assert current_build(tiny_settings.index_dir) != first
    assert assistant.index.manifest["model"]["fingerprint"] == RetrainedModel.fingerprint


def test_assistant_rebuilds_a_stale_index(tiny_settings, tiny_corpus):
    embedder = FakeEmbedder()
    Assistant.load(tiny_settings, embedder=embedder)
    first = current_build(tiny_settings.index_dir)
    Assistant.load(tiny_settings, embedder=embedder)
    assert current_build(tiny_settings.index_dir) == first  # unchanged: no rebuild
    (tiny_corpus / "new.txt").write_text("Swimming\n\nSwimming is gentle exercise for sore bones.\n", encoding="utf-8")
    assistant = Assistant.load(tiny_settings, embedder=embedder)
    assert current_build(tiny_settings.index_dir) != first
    assert not first.exists()  # the old build was cleaned up
    assert any("Swimming" in c.text for c in assistant.index.chunks)


def test_crash_during_build_keeps_the_old_index(tiny_settings, tiny_corpus):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    before = current_build(tiny_settings.index_dir)
    (tiny_corpus / "new.txt").write_text("Swimming\n\nSwimming is gentle exercise.\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index(tiny_settings, FakeEmbedder(fail_after=0), progress=False)
    assert current_build(tiny_settings.index_dir) == before
    leftovers = [p.name for p in tiny_settings.index_dir.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
    with pytest.raises(StaleIndexError):  # still the old, intact index: stale, not corrupt
        load_index(tiny_settings, FakeEmbedder())


@pytest.mark.parametrize("damage", ["chunks.json", "chunk_vectors.npy", "chunks.faiss", "manifest.json", "CURRENT"])
def test_corrupt_files_give_a_clear_error_with_the_fix(tiny_settings, damage):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    target = tiny_settings.index_dir / CURRENT if damage == "CURRENT" else build / damage
    target.write_bytes(b"\x00garbage" if damage != "CURRENT" else b"../elsewhere")
    with pytest.raises(CorruptIndexError, match="index damaged: .* rebuild it with `qa index`"):
        load_index(tiny_settings, FakeEmbedder())


def test_vectors_that_do_not_match_the_chunks_are_caught(tiny_settings):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    np.save(build / "unit_vectors.npy", np.zeros((1, 64), np.float32), allow_pickle=False)
    with pytest.raises(CorruptIndexError, match="unit_vectors.npy differs from the file that was built"):
        load_index(tiny_settings, FakeEmbedder())


class WiderModel(FakeEmbedder):
    dimension = 384


def test_a_model_of_another_size_is_a_clear_error(tiny_settings):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    with pytest.raises(CorruptIndexError, match="64-d vectors but the model makes 384-d"):
        load_index(tiny_settings, WiderModel())


def test_large_indexes_switch_to_ivf(tiny_settings):
    settings = tiny_settings.with_(exact_search_max=1, ivf_nprobe=3)
    build = build_index(settings, FakeEmbedder(), progress=False)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["faiss"] == "ivf"
    index = load_index(settings, FakeEmbedder())
    assert hasattr(index.dense, "nprobe")
    from qa.answering.retrieve import Retriever

    retriever = Retriever(index, settings)
    assert index.dense.nprobe == 3
    ids, _ = retriever.dense_ranking(index.chunk_vectors[0], 3)
    assert ids[0] == 0  # a chunk's own vector finds it first


def test_ivf_list_count_follows_the_data_size():
    from qa.index.store import ivf_lists

    assert ivf_lists(10) == 1
    assert ivf_lists(1_000_000) == 4000


def test_units_finds_each_unit_by_its_row_with_its_first_chunk(tiny_settings):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    index = load_index(tiny_settings, FakeEmbedder())
    assert sorted(index.units) == list(range(len(index.unit_vectors)))
    for chunk, ids in zip(index.chunks, index.unit_ids):
        for unit, uid in zip(chunk.units, ids):
            first, found = index.units[uid]
            assert found == unit and first.id <= chunk.id and first.file == chunk.file

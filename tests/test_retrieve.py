import pytest

from qa.answering.retrieve import reciprocal_rank_fusion


def test_rrf_rewards_items_ranked_well_by_both():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 2, 4]], k=60)
    assert max(fused, key=fused.get) in (2, 3)
    assert fused[2] > fused[1] and fused[2] > fused[4]
    assert reciprocal_rank_fusion([[1, 2], [2, 3]], k=0) == {1: 1.0, 2: 1.5, 3: 0.5}


def test_empty_rankings_fuse_to_nothing():
    assert reciprocal_rank_fusion([[], []]) == {}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_passage_that_answers(fake_assistant, mode):
    query = "zometa side effects headache"
    vector = fake_assistant.embedder.encode_query(query)
    passages = fake_assistant.retriever.search(query, vector, k=3, mode=mode)
    assert passages and "headache" in passages[0].chunk.text
    assert [p.rank for p in passages] == list(range(len(passages)))
    assert all(a.score >= b.score for a, b in zip(passages, passages[1:]))


def test_bm25_ignores_words_the_corpus_lacks(fake_assistant):
    ids, scores = fake_assistant.retriever.bm25_ranking("passport renewal", 5)
    assert len(ids) == 0 and len(scores) == 0


def test_passages_carry_the_dense_similarity(fake_assistant):
    query = "spinal cord compression"
    vector = fake_assistant.embedder.encode_query(query)
    passages = fake_assistant.retriever.search(query, vector, k=3)
    assert len(passages) == 3  # the loop below must check something
    for passage in passages:
        expected = float(fake_assistant.index.chunk_vectors[passage.chunk.id] @ vector)
        assert passage.dense == pytest.approx(expected, abs=1e-5)

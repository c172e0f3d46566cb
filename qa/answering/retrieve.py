"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by
reciprocal rank fusion.

    >>> retriever = Retriever(index, settings)
    >>> passages = retriever.search("what is xgeva", query_vector, k=5)
"""

from __future__ import annotations

import numpy as np

from qa.data import Passage
from qa.index.store import Index
from qa.language.terms import analyse
from qa.settings import Settings

CANDIDATES = 20  # how deep each ranking goes before fusion


class Retriever:
    """Ranks the index's chunks for a query; BM25 is built on first use."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self._bm25 = None
        if hasattr(index.dense, "nprobe"):  # an IVF index: how many lists a search visits
            index.dense.nprobe = settings.ivf_nprobe
        # Thread counts are left alone: FAISS and torch share one OpenMP runtime,
        # so pinning FAISS to one thread also pinned the query embedding, the
        # larger cost (ask median over the eval questions: 17.3 ms on 1 thread, 13.1 on 2).

    @property
    def bm25(self):
        if self._bm25 is None:
            import bm25s

            tokens = [analyse(f"{c.title} {c.section} {c.text}") for c in self.index.chunks]
            vocab = {t: i for i, t in enumerate(sorted({t for doc in tokens for t in doc}))}
            bm25 = bm25s.BM25()
            bm25.index(bm25s.tokenization.Tokenized([[vocab[t] for t in doc] for doc in tokens], vocab), show_progress=False)
            self._bm25 = bm25
        return self._bm25

    def dense_ranking(self, query_vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, cosine similarities), best first."""
        scores, ids = self.index.dense.search(query_vector.reshape(1, -1), min(n, len(self.index.chunks)))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def bm25_ranking(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores), best first; empty when no term matches."""
        terms = [t for t in analyse(query) if t in self.bm25.vocab_dict]
        if not terms:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        scores = self.bm25.get_scores(terms)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top, scores[top]

    def search(self, query: str, query_vector: np.ndarray, k: int, mode: str | None = None) -> list[Passage]:
        """The k best passages for the query, best first."""
        mode = self.settings.retrieval if mode is None else mode
        dense_ids, dense_scores = self.dense_ranking(query_vector, CANDIDATES)
        cosine = dict(zip(dense_ids.tolist(), dense_scores.tolist()))
        if mode == "dense":
            fused = {int(i): float(s) for i, s in zip(dense_ids, dense_scores)}
        elif mode == "bm25":
            ids, scores = self.bm25_ranking(query, CANDIDATES)
            fused = {int(i): float(s) for i, s in zip(ids, scores)}
        else:
            bm25_ids, _ = self.bm25_ranking(query, CANDIDATES)
            fused = reciprocal_rank_fusion([dense_ids.tolist(), bm25_ids.tolist()], self.settings.rrf_k)
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        passages = []
        for rank, (chunk_id, score) in enumerate(best):
            if chunk_id in cosine:
                similarity = cosine[chunk_id]
            else:
                similarity = float(self.index.chunk_vectors[chunk_id] @ query_vector)
            passages.append(Passage(self.index.chunks[chunk_id], score, rank, similarity))
        return passages


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60) -> dict[int, float]:
    """Sum of 1 / (k + rank) over the rankings each item appears in (rank from 1).

    >>> reciprocal_rank_fusion([[1, 2], [2, 3]], k=0)
    {1: 1.0, 2: 1.5, 3: 0.5}
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused

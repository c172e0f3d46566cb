"""Embedding only what is new: a build reuses the live index's vectors for every
text it embedded before (same model, same embedding code, same text: the same
vector, as each text is embedded alone, never in a batch), so adding one
leaflet to a large corpus embeds that leaflet alone, and the index is the one a
full rebuild would give.

    >>> vectors, embedded = encode_reusing(embedder, texts, known)   # known: text -> vector
"""

from __future__ import annotations

import numpy as np


def encode_reusing(embedder, texts: list[str], known: dict[str, np.ndarray], progress: bool = False) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, row-aligned: known ones copied, the rest embedded in
    one call (each distinct text once). Returns the vectors and how many texts were embedded."""
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    fresh = embedder.encode(missing, progress=progress) if missing else None
    if fresh is not None and fresh.shape[0] != len(missing):
        raise ValueError(f"the embedding model returned {fresh.shape[0]} vectors for {len(missing)} texts")
    found = dict(zip(missing, fresh)) if fresh is not None else {}
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    rows = [known[t] if t in known else found[t] for t in texts]
    return np.stack(rows).astype(np.float32, copy=False), len(missing)


def vectors_by_text(texts: list[str], vectors: np.ndarray) -> dict[str, np.ndarray]:
    """text -> vector for the rows of an index (a text seen twice has one vector)."""
    return {text: vectors[row] for row, text in enumerate(texts)}

"""Dense search at scale, for the speed benchmark (eval/bench.py): synthetic corpora
of realistic vectors, exact (IndexFlatIP) vs HNSW vs IVF search timed on them, recall
against exact search, and the recommendation drawn from the numbers."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from bench_common import log, summary, timed

from qa.answering.retrieve import CANDIDATES
from qa.settings import Settings

K = CANDIDATES  # search depth: what the app's dense ranking asks FAISS for
RECALL_AT = 10
RECALL_TARGET = 0.95
TARGET_P95_MS = 10.0  # at 1M chunks, HNSW search p95 must stay under this at recall@10 >= 0.95
SYNTHETIC_NOISE = 0.2  # norm of the Gaussian noise added to each synthetic mix
SYNTHETIC_VERSION = 1  # bump when `mix` changes, so cached vectors are made again
QUERY_NOISE = 0.3  # norm of the noise of perturbed real vectors used as extra queries


@contextmanager
def faiss_threads(n: int):
    """FAISS's OpenMP thread count set to n inside the block."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# ---------------------------------------------------------------- synthetic corpora and search timings


def real_vectors(index_dir: Path) -> np.ndarray:
    """The built index's chunk and unit vectors (index/CURRENT names the build folder)."""
    build = index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    parts = [np.load(build / name, allow_pickle=False) for name in ("chunk_vectors.npy", "unit_vectors.npy")]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def mix(real: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors, each a random mix of 2 or 3 real vectors plus Gaussian noise."""
    dim = real.shape[1]
    picks = rng.integers(0, len(real), size=(n, 3))
    weights = rng.dirichlet(np.ones(3), size=n).astype(np.float32)
    weights[rng.random(n) < 0.5, 2] = 0.0  # half mix two vectors, half three
    weights /= weights.sum(axis=1, keepdims=True)
    block = np.einsum("nk,nkd->nd", weights, real[picks])
    block += rng.normal(0.0, noise / np.sqrt(dim), size=(n, dim)).astype(np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    return block


def synthetic_vectors(real: np.ndarray, n: int, seed: int, cache_dir: Path) -> np.ndarray:
    """n realistic synthetic vectors, cached as .npy (keyed by the real vectors, n and seed)."""
    key = hashlib.sha1(real.tobytes()).hexdigest()[:10]
    path = cache_dir / f"synthetic-v{SYNTHETIC_VERSION}-{n}-seed{seed}-noise{SYNTHETIC_NOISE}-{key}.npy"
    if path.is_file():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (n, real.shape[1]) and vectors.dtype == np.float32:
                return vectors
        except (OSError, ValueError):
            pass  # damaged cache file: make it again
    rng = np.random.default_rng([seed, n])
    vectors = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 32768):
        stop = min(n, start + 32768)
        vectors[start:stop] = mix(real, stop - start, SYNTHETIC_NOISE, rng)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        np.save(f, vectors, allow_pickle=False)
    os.replace(tmp, path)
    return vectors


def scale_queries(assistant, questions, real: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, int]:
    """Real query embeddings of the questions, topped up with perturbed real vectors; (queries, n real)."""
    queries = list(dict.fromkeys(assistant.prepare(q, h).query for q, h in questions))[:count]
    vectors = [assistant.embedder.encode_query(q) for q in queries]
    n_real = len(vectors)
    if n_real < count:
        rng = np.random.default_rng([seed, 1])
        extra = real[rng.integers(0, len(real), count - n_real)]
        extra = extra + rng.normal(0.0, QUERY_NOISE / np.sqrt(real.shape[1]), extra.shape).astype(np.float32)
        vectors.extend(extra / np.linalg.norm(extra, axis=1, keepdims=True))
    return np.ascontiguousarray(np.stack(vectors), dtype=np.float32), n_real


def time_searches(index, queries: np.ndarray, k: int = K) -> tuple[list[float], np.ndarray]:
    """Per-query milliseconds of single-query searches (after a short warm-up), and the ids found."""
    for q in queries[:5]:
        index.search(q.reshape(1, -1), k)
    ms, found = [], []
    for q in queries:
        start = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)
        ms.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
    return ms, np.stack(found)


def recall(found: np.ndarray, truth: np.ndarray, k: int = RECALL_AT) -> float:
    """Mean share of the exact top-k that the approximate top-k holds."""
    return float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth)]))


def bench_exact(vectors: np.ndarray, queries: np.ndarray, args) -> tuple[dict, np.ndarray]:
    """IndexFlatIP: build time, bytes, single-query latency at 1 and all threads; and the exact top-K."""
    with faiss_threads(args.threads):
        index, build_ms = timed(_flat, vectors)
        scores, truth = index.search(queries, K)  # batched ground truth, all threads
    row = {"build_s": build_ms / 1000, "index_bytes": index.ntotal * index.d * 4, "vector_bytes": vectors.nbytes,
           "top1_cos": float(scores[:, 0].mean())}
    for threads in sorted({1, args.threads}):
        with faiss_threads(threads):
            ms, _ = time_searches(index, queries[: args.latency_queries])
        row[f"t{threads}"] = summary(ms)
    return row, truth


def _flat(vectors: np.ndarray):
    """An exact inner-product index holding the vectors."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80  # HNSW is measured for comparison only


def bench_hnsw(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, args) -> dict:
    """HNSW (M=32, efConstruction=80) for comparison: build time, bytes, and an efSearch sweep."""
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    with faiss_threads(args.threads):
        _, build_ms = timed(index.add, vectors)
    hnsw = index.hnsw
    links = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
    result = {"build_s": build_ms / 1000, "index_bytes": vectors.nbytes + links, "m": HNSW_M,
              "ef_construction": HNSW_EF_CONSTRUCTION, "sweep": []}
    with faiss_threads(1):
        for ef in args.ef_search:
            hnsw.efSearch = ef
            ms, found = time_searches(index, queries)
            result["sweep"].append({"param": ef, **summary(ms), "recall": recall(found, truth)})
    return result


def bench_ivf(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, args, settings: Settings) -> dict:
    """IVF as the app builds it above `exact_search_max` (qa.index.store.make_faiss): build time, bytes, nprobe sweep."""
    from qa.index.store import ivf_lists, make_faiss

    n, dim = vectors.shape
    nlist = ivf_lists(n)
    with faiss_threads(args.threads):
        index, build_ms = timed(make_faiss, vectors, settings.with_(exact_search_max=0))
    result = {"build_s": build_ms / 1000, "nlist": nlist, "index_bytes": n * (dim * 4 + 8) + nlist * dim * 4, "sweep": []}
    with faiss_threads(1):
        for nprobe in args.nprobe:
            if nprobe > nlist:
                continue
            index.nprobe = nprobe
            ms, found = time_searches(index, queries)
            result["sweep"].append({"param": nprobe, **summary(ms), "recall": recall(found, truth)})
    return result


def bench_scale(assistant, questions, args) -> dict:
    """Exact, HNSW and IVF search on synthetic corpora of each size."""
    real = real_vectors(assistant.settings.index_dir)
    queries, n_real = scale_queries(assistant, questions, real, args.queries, args.seed)
    rows = []
    for n in args.sizes:
        log(f"scale {n:,}: synthetic vectors (cache: {args.cache_dir})")
        vectors = synthetic_vectors(real, n, args.seed, args.cache_dir)
        log(f"scale {n:,}: exact search")
        exact, truth = bench_exact(vectors, queries, args)
        log(f"scale {n:,}: IVF (the app's approximate index) build and nprobe sweep")
        row = {"n": n, "exact": exact, "ivf": bench_ivf(vectors, queries, truth, args, assistant.settings)}
        if args.ivf:  # --ivf / --no-ivf now switches the HNSW comparison
            log(f"scale {n:,}: HNSW build and efSearch sweep (comparison)")
            row["hnsw"] = bench_hnsw(vectors, queries, truth, args)
        rows.append(row)
        del vectors
    return {"real_vectors": len(real), "queries": len(queries), "real_queries": n_real, "rows": rows}


# ---------------------------------------------------------------- recommendation


def crossing(points: list[tuple[int, float]], budget: float) -> float:
    """The size at which latency reaches the budget: log-log interpolation, else proportional extrapolation."""
    points = sorted(points)
    for (n0, t0), (n1, t1) in zip(points, points[1:]):
        if t0 <= budget <= t1 and t1 > t0:
            share = (np.log(budget) - np.log(t0)) / (np.log(t1) - np.log(t0))
            return float(np.exp(np.log(n0) + share * (np.log(n1) - np.log(n0))))
    n, t = points[0] if budget < points[0][1] else points[-1]
    return n * budget / t  # exact search is linear in n


def round_nice(x: float) -> int:
    """Two significant digits."""
    if x <= 0:
        return 0
    digits = int(np.floor(np.log10(x))) - 1
    return int(round(x / 10**digits) * 10**digits)


def best_setting(sweep: list[dict]) -> dict | None:
    """The fastest sweep point (by p95) that reaches the recall target."""
    good = [s for s in sweep if s["recall"] >= RECALL_TARGET]
    return min(good, key=lambda s: s["p95"]) if good else None


def recommend(scale: dict, args, settings: Settings) -> dict:
    """Where exact search gets too slow, and whether the app's IVF meets the target at the largest size."""
    rows = scale["rows"]
    out = {"budget_ms": args.exact_budget_ms, "current_exact_search_max": settings.exact_search_max}
    for threads in sorted({1, args.threads}):
        points = [(r["n"], r["exact"][f"t{threads}"]["p95"]) for r in rows]
        out[f"switch_t{threads}"] = round_nice(crossing(points, args.exact_budget_ms))
    largest = rows[-1]
    out["largest"] = largest["n"]
    out["ivf_best"] = best_setting(largest["ivf"]["sweep"])
    out["hnsw_measured"] = "hnsw" in largest
    out["hnsw_best"] = best_setting(largest["hnsw"]["sweep"]) if out["hnsw_measured"] else None
    current = [s for s in largest["ivf"]["sweep"] if s["param"] == settings.ivf_nprobe]
    out["ivf_current"] = current[0] if current else None
    met = out["ivf_current"]
    out["target_met"] = bool(met and met["p95"] <= TARGET_P95_MS and met["recall"] >= RECALL_TARGET)
    return out


def recommendation_text(rec: dict, threads: int) -> list[str]:
    """The recommendation as plain sentences."""
    lines = [
        f"Exact search (IndexFlatIP) at the app's {threads} FAISS thread(s) (the default, which the app keeps) "
        f"passes {rec['budget_ms']:g} ms p95 at about **{rec[f'switch_t{threads}']:,} vectors**: set "
        f"`exact_search_max` near that (now {rec['current_exact_search_max']:,})."
    ]
    if threads != 1:
        lines.append(f"On 1 FAISS thread the same budget is passed at about {rec['switch_t1']:,} vectors.")
    n = rec["largest"]
    scope = "" if n >= 1_000_000 else f" (measured at {n:,}; the target is for 1,000,000)"
    current = rec["ivf_current"]
    if current is not None:
        verdict = "meets" if rec["target_met"] else "misses"
        lines.append(
            f"The app's IVF index (nprobe {current['param']}) {verdict} the target (p95 <= {TARGET_P95_MS:g} ms at "
            f"recall@{RECALL_AT} >= {RECALL_TARGET}) at {n:,} vectors: recall {current['recall']:.3f}, "
            f"p95 {current['p95']:.2f} ms{scope}."
        )
    best = rec["ivf_best"]
    if best is not None:
        lines.append(f"Fastest IVF setting reaching the recall target: nprobe {best['param']} (recall {best['recall']:.3f}, p95 {best['p95']:.2f} ms).")
    hnsw = rec["hnsw_best"]
    if rec["hnsw_measured"] and hnsw is None:
        lines.append(f"HNSW (comparison) reached recall@{RECALL_AT} >= {RECALL_TARGET} at no efSearch tried at {n:,} vectors.")
    elif hnsw is not None:
        lines.append(f"HNSW (comparison): efSearch {hnsw['param']} gives recall {hnsw['recall']:.3f} at p95 {hnsw['p95']:.2f} ms.")
    return lines

"""Build, save and load the index: chunks, their vectors and a FAISS index,
with a manifest that tells whether the index still fits the corpus and settings.

On disk (no pickle anywhere):
    index/CURRENT                 name of the live build folder
    index/build-<time>-<hash>/    manifest.json, chunks.json, chunk_vectors.npy,
                                  unit_vectors.npy, chunks.faiss

A build is written to a temporary folder and made live by atomically
replacing CURRENT, so a crash or Ctrl-C never leaves a half-written index.
The manifest records the sha256 of every other file and of the embedding
model's files; loading checks them, so a damaged index is refused, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.index.builds import CURRENT, check_folder, make_live, start_build
from qa.index.provenance import code_hash, embedding_code_hash, settings_hash, versions
from qa.ingest.chunk import chunk_corpus
from qa.ingest.corpus import corpus_hash, extractions_json, load_corpus
from qa.data import Chunk, Span, Unit
from qa.errors import CorruptIndexError, IndexFolderError, IndexNotFoundError, ModelNotFoundError, StaleIndexError
from qa.settings import Settings

FORMAT = 3  # 2: file checksums and the model's fingerprint in the manifest; 3: pages, extracted.json
# extracted.json: the text read from each PDF and Word file (with its pages), which every offset refers to.
DATA_FILES = ("chunks.json", "chunk_vectors.npy", "unit_vectors.npy", "chunks.faiss", "extracted.json")
FILES = ("manifest.json", *DATA_FILES)
FIX = "rebuild it with `qa index` (or `make index`)"
# What a manifest must hold, and of which type, before anything in it is trusted.
MANIFEST_FIELDS = {
    ("model", "name"): str,
    ("model", "dimension"): int,
    ("model", "fingerprint"): str,
    ("corpus_hash",): str,
    ("settings_hash",): str,
    ("counts", "chunks"): int,
    ("documents",): dict,
    **{("files", name): str for name in DATA_FILES},
}


def embed_text(chunk: Chunk) -> str:
    """What the embedding model sees for a chunk: its heading gives context."""
    return f"{chunk.section}. {chunk.text}" if chunk.section else chunk.text


@dataclass
class Index:
    """A loaded index. Chunks and units live in memory; vectors are row-aligned."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    chunk_vectors: np.ndarray  # (n_chunks, dim)
    unit_vectors: np.ndarray  # (n_units, dim)
    unit_ids: list[tuple[int, ...]]  # per chunk: row of each of its units in unit_vectors
    dense: object  # faiss.Index over chunk_vectors

    @cached_property
    def documents(self) -> dict[str, str]:
        return self.manifest["documents"]

    @cached_property
    def units(self) -> dict[int, tuple[Chunk, Unit]]:
        """Each unit by its row in unit_vectors, with the first chunk that holds it
        (overlapping chunks of one section share units)."""
        found: dict[int, tuple[Chunk, Unit]] = {}
        for chunk, ids in zip(self.chunks, self.unit_ids):
            for unit, uid in zip(chunk.units, ids):
                found.setdefault(uid, (chunk, unit))
        return found

    @cached_property
    def previous(self) -> dict[int, int]:
        """The unit before each unit in its section, by row: found across the
        overlapping chunks, so a chunk's first unit has one too."""
        before: dict[int, int] = {}
        for ids in self.unit_ids:
            for earlier, uid in zip(ids, ids[1:]):
                before.setdefault(uid, earlier)  # overlapping chunks agree on it
        return before


def current_build(index_dir: Path) -> Path:
    """The live build folder that CURRENT names."""
    check_folder(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexNotFoundError(f"no index in {index_dir}: run `qa index` (or `make index`) to build it")
    if not pointer.is_file():
        raise CorruptIndexError(f"index damaged: {pointer} is not a file: remove it, then {FIX}")
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise CorruptIndexError(f"index damaged: {pointer} is not text: {FIX}") from exc
    except OSError as exc:
        raise CorruptIndexError(f"index damaged: cannot read {pointer} ({exc.strerror}): {FIX}") from exc
    build = index_dir / name
    if not name.startswith("build-") or "/" in name or not build.is_dir():
        raise CorruptIndexError(f"index damaged: {pointer} points at {name[:80]!r}, which is not a build folder: {FIX}")
    return build


def check_fresh(settings: Settings, embedder) -> dict:
    """The live manifest, if the index matches the corpus, settings and model."""
    return _fresh(settings, embedder)[1]


def _fresh(settings: Settings, embedder, corpus: bool = True) -> tuple[Path, dict]:
    """The live build and manifest, if made by this model, with these settings
    and, when `corpus`, from this corpus."""
    build = current_build(settings.index_dir)
    manifest = _read_manifest(build)
    model = manifest["model"]
    if model["name"] != embedder.name or model["fingerprint"] != embedder.fingerprint:
        raise StaleIndexError(f"{build} was built with another embedding model ({model['name'][:80]}): {FIX}")
    if not corpus:
        return build, manifest
    if manifest["settings_hash"] != settings_hash(settings, embedder.name, embedder.fingerprint):
        raise StaleIndexError(f"{build} was built with other settings or older chunking code: {FIX}")
    if manifest["corpus_hash"] != corpus_hash(settings.corpus_dir):
        raise StaleIndexError(f"{settings.corpus_dir} changed since {build} was built: {FIX}")
    return build, manifest


def _read_manifest(build: Path) -> dict:
    path = build / "manifest.json"
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CorruptIndexError(f"index damaged: {path} is missing or not valid JSON: {FIX}") from exc
    if not isinstance(manifest, dict):
        raise CorruptIndexError(f"index damaged: {path} is not a JSON object: {FIX}")
    if manifest.get("format") != FORMAT:
        if type(manifest.get("format")) is int:  # an index from another version: rebuilt like a stale one
            raise StaleIndexError(f"{path} was written by another version of this program: {FIX}")
        raise CorruptIndexError(f"index damaged: {path} has no valid format number: {FIX}")
    for keys, kind in MANIFEST_FIELDS.items():
        value = manifest
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        # bool is an int to Python, never to us
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            what = "a whole number" if kind is int else "an object" if kind is dict else "a string"
            raise CorruptIndexError(f"index damaged: {path} has no valid {'.'.join(keys)} ({what}): {FIX}")
    return manifest


def verify_index(settings: Settings, embedder) -> dict:
    """The live manifest, if the index is fresh and every file is the one that was built."""
    build, manifest = _fresh(settings, embedder)
    for name in DATA_FILES:
        _read_verified(build / name, manifest["files"][name])
    return manifest


def _read_verified(path: Path, sha256: str) -> bytes:
    """A file's bytes, read once, if they hash to what the manifest recorded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptIndexError(f"index damaged: cannot read {path} ({exc.strerror}): {FIX}") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptIndexError(f"index damaged: {path} differs from the file that was built (checksum): {FIX}")
    return data


def load_index(settings: Settings, embedder) -> Index:
    """Load the live index; raises IndexNotFoundError, StaleIndexError or CorruptIndexError.

    `embedder` gives the model's name, fingerprint and dimension (anything with those)."""
    build = current_build(settings.index_dir)
    try:
        return _load(settings, embedder)
    except CorruptIndexError:
        if current_build(settings.index_dir) == build:
            raise  # damage, not a build made live (and this one removed) while reading
        return _load(settings, embedder)


def _load(settings: Settings, embedder, corpus: bool = True) -> Index:
    build, manifest = _fresh(settings, embedder, corpus)
    data = {name: _read_verified(build / name, manifest["files"][name]) for name in DATA_FILES}
    dim = manifest["model"]["dimension"]
    if dim != embedder.dimension:
        raise CorruptIndexError(f"index damaged: {build} holds {dim}-d vectors but the model makes {embedder.dimension}-d ones: {FIX}")
    try:
        chunks, unit_ids = _chunks_from_json(json.loads(data["chunks.json"]))
        chunk_vectors = np.load(io.BytesIO(data["chunk_vectors.npy"]), allow_pickle=False)
        unit_vectors = np.load(io.BytesIO(data["unit_vectors.npy"]), allow_pickle=False)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise CorruptIndexError(f"index damaged: cannot read the index in {build} ({exc}): {FIX}") from exc
    n_units = 1 + max((max(ids) for ids in unit_ids if ids), default=-1)
    if chunk_vectors.shape != (len(chunks), dim) or unit_vectors.shape != (n_units, dim):
        raise CorruptIndexError(f"index damaged: the vectors in {build} do not match its chunks: {FIX}")
    if not (np.isfinite(chunk_vectors).all() and np.isfinite(unit_vectors).all()):
        raise CorruptIndexError(f"index damaged: {build} holds vectors that are not finite numbers: {FIX}")
    dense = _read_faiss(build / "chunks.faiss", data["chunks.faiss"], len(chunks), dim)
    return Index(build, manifest, chunks, chunk_vectors, unit_vectors, unit_ids, dense)


def _read_faiss(path: Path, data: bytes, expected: int, dim: int):
    import faiss

    try:
        dense = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        raise CorruptIndexError(f"index damaged: {path} is not a FAISS index: {FIX}") from exc
    if dense.ntotal != expected or dense.d != dim:
        raise CorruptIndexError(f"index damaged: {path} holds {dense.ntotal} {dense.d}-d vectors, not {expected} {dim}-d ones: {FIX}")
    return dense


def ivf_lists(n: int) -> int:
    """About 4 * sqrt(n) inverted lists, with at least 39 training points each."""
    return max(1, min(int(round(4 * n**0.5)), n // 39))


def make_faiss(vectors: np.ndarray, settings: Settings):
    """Exact inner-product search up to `exact_search_max` vectors, IVF above.

    eval/bench.md measured both: exact search passes 2.5 ms p95 near 50,000
    vectors; at 1M, IVF with nprobe 32 keeps recall@10 at 0.97 in under 1 ms,
    where HNSW (M=32) stayed under 0.95 recall on the same data.
    """
    import faiss

    n, dim = vectors.shape
    if n <= settings.exact_search_max:
        dense = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_lists(n)
        rng = np.random.default_rng(0)  # same data, same index
        sample = vectors[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))]
        dense = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        dense.train(sample)
    dense.add(vectors)
    return dense


def known_vectors(settings: Settings, embedder) -> dict:
    """text -> vector of everything the live index embedded with this model and
    this embedding code (for any corpus), or {} when there is no usable index:
    what a build may reuse."""
    from qa.index.reuse import vectors_by_text

    try:
        index = _load(settings, embedder, corpus=False)
    except (IndexNotFoundError, StaleIndexError, CorruptIndexError, IndexFolderError):
        return {}
    if index.manifest.get("embedding_code") != embedding_code_hash():
        return {}
    units = index.units
    texts = [embed_text(c) for c in index.chunks] + [units[row][1].text for row in range(len(units))]
    return vectors_by_text(texts, np.concatenate([index.chunk_vectors, index.unit_vectors]))


def build_index(settings: Settings, embedder, progress: bool = True, reuse: bool = True) -> Path:
    """Build the index from the corpus and make it live; returns its folder.
    With `reuse`, texts the live index already embedded keep their vectors
    (the manifest's `embedded` counts the new ones); without, all are embedded.

    The temporary build folder is made first, so an unusable index folder is
    reported before the slow part, not after it."""
    from qa.index.reuse import encode_reusing

    started = time.time()
    tmp = start_build(settings.index_dir)
    try:
        docs = load_corpus(settings.corpus_dir, settings.max_file_mb, progress=progress)
        fingerprint = corpus_hash(settings.corpus_dir)
        chunks = chunk_corpus(docs, settings.chunk_chars, settings.chunk_overlap, progress=progress)
        units, unit_ids = _unique_units(chunks)
        known = known_vectors(settings, embedder) if reuse else {}
        texts = [embed_text(c) for c in chunks] + [u.text for u in units]
        vectors, embedded = encode_reusing(embedder, texts, known, progress=progress)
        if not np.isfinite(vectors).all():
            raise ModelNotFoundError(f"the embedding model {embedder.name} made vectors that are not finite numbers: it is damaged; reinstall it")
        chunk_vectors, unit_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
        records = [_chunk_to_json(chunk, ids, units) for chunk, ids in zip(chunks, unit_ids)]
        files = _serialise(records, chunk_vectors, unit_vectors, make_faiss(chunk_vectors, settings))
        files["extracted.json"] = extractions_json(docs)
        manifest = {
            "format": FORMAT,
            "model": {"name": embedder.name, "dimension": int(vectors.shape[1]), "fingerprint": embedder.fingerprint},
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
            "corpus_hash": fingerprint,
            "settings": settings.build_part(),
            "settings_hash": settings_hash(settings, embedder.name, embedder.fingerprint),
            "code_hash": code_hash(),
            "embedding_code": embedding_code_hash(),  # vectors are reused only from the same code
            "faiss": "flat" if len(chunks) <= settings.exact_search_max else "ivf",
            "versions": versions(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.time() - started, 2),
            "counts": {"documents": len(docs), "chunks": len(chunks), "units": len(units)},
            "embedded": embedded,  # texts embedded by this build; the rest were reused
            "documents": {doc.id: Path(doc.path).name for doc in docs},
        }
        files["manifest.json"] = json.dumps(manifest, indent=2).encode("utf-8")
        return make_live(settings.index_dir, tmp, files)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _unique_units(chunks: list[Chunk]) -> tuple[list[Unit], list[tuple[int, ...]]]:
    """Units repeated by chunk overlap are embedded once."""
    seen: dict[tuple[str, int, int], int] = {}
    units: list[Unit] = []
    unit_ids = []
    for chunk in chunks:
        ids = []
        for unit in chunk.units:
            key = (chunk.file, unit.span.start, unit.span.end)
            if key not in seen:
                seen[key] = len(units)
                units.append(unit)
            ids.append(seen[key])
        unit_ids.append(tuple(ids))
    return units, unit_ids


def _chunk_to_json(chunk: Chunk, ids: tuple[int, ...], units: list[Unit]) -> dict:
    record = asdict(chunk)
    record["span"] = [chunk.span.start, chunk.span.end]
    record["units"] = [[i, units[i].span.start, units[i].span.end, units[i].is_question, units[i].page] for i in ids]
    record["also_in"] = list(chunk.also_in)
    record["pages"] = list(chunk.pages)
    return record


def _chunks_from_json(records: list[dict]) -> tuple[list[Chunk], list[tuple[int, ...]]]:
    chunks, unit_ids = [], []
    for record in records:
        start, end = record["span"]
        text = record["text"]
        units = tuple(
            Unit(Span(s, e), text[s - start : e - start], bool(q), None if page is None else int(page))
            for _, s, e, q, page in record["units"]
        )
        unit_ids.append(tuple(int(i) for i, *_ in record["units"]))
        fields = {k: v for k, v in record.items() if k not in ("span", "units", "also_in", "pages")}
        pages = tuple(int(p) for p in record["pages"])
        chunks.append(Chunk(**fields, span=Span(start, end), units=units, also_in=tuple(record["also_in"]), pages=pages))
    return chunks, unit_ids


def _serialise(records: list[dict], chunk_vectors, unit_vectors, dense) -> dict[str, bytes]:
    """Each index file's bytes: hashed and written from the same bytes."""
    import faiss

    def npy(array) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    return {
        "chunks.json": json.dumps(records, ensure_ascii=False).encode("utf-8"),
        "chunk_vectors.npy": npy(chunk_vectors),
        "unit_vectors.npy": npy(unit_vectors),
        "chunks.faiss": faiss.serialize_index(dense).tobytes(),
    }

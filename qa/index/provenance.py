"""What an index build records about how it was made, so a later load can
tell whether it still fits: hashes of the code and settings that made it,
and the versions of the packages."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from qa.settings import Settings


def code_hash() -> str:
    """A hash of the code that turns documents into chunks and vectors: changing
    a cleaning, chunking or embedding rule makes the index stale, like a setting
    (how ONNX Runtime runs the int8 embedding model changes its vectors too)."""
    from qa.index import embed, onnx
    from qa.ingest import chunk, clean, corpus, docx, layout, pdf

    modules = (corpus, clean, chunk, pdf, docx, layout, embed, onnx)
    # This module and the store's, whose writing and reading rules are the index's format.
    return _files_hash([*(Path(m.__file__) for m in modules), Path(__file__), Path(__file__).with_name("store.py")])


def embedding_code_hash() -> str:
    """A hash of the code that runs the embedding model: vectors embedded by other
    code are not reused (ONNX Runtime's options, reading texts in batches or alone
    moved them), though the model's weights are the same."""
    from qa.index import embed, onnx

    return _files_hash([Path(embed.__file__), Path(onnx.__file__)])


def _files_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def settings_hash(settings: Settings, model_name: str, model_fingerprint: str) -> str:
    build = dict(settings.build_part(), model=model_name, model_fingerprint=model_fingerprint, code=code_hash())
    return hashlib.sha256(json.dumps(build, sort_keys=True).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """The versions of the packages that made a build, for its manifest."""
    found = {}
    for package in ("qa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found

"""The training leaflets (train/leaflets/): short documents on cancer-care
topics away from the five texts, each a Markdown file with its questions in a
JSONL file of the same name. The reader trains on them, read as a corpus of
their own; one writer's leaflets are held out to measure it on documents
nothing here was trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# The writer whose leaflets nothing trains on (question ids start so): `make eval`
# measures documents nothing here saw on them. The reader, the answer model's
# leaflet fit (`qa train`, on by default) and the triage's leaflet checks all leave this writer out.
HELD_OUT_WRITER = "lc"


def leaflet_files(leaflets: Path, writer: str, held_out: bool) -> list[Path]:
    """The leaflets' question files by one writer (held_out) or by the others."""
    files = []
    for path in sorted(leaflets.glob("*.jsonl")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        ours = bool(writer) and json.loads(first)["id"].startswith(writer) if first.strip() else False
        if ours == held_out:
            files.append(path)
    return files


def leaflet_assistant(settings, embedder, work: Path, questions: list[Path], **parts):
    """An assistant over the leaflets of these question files as a corpus of
    their own (its own index in `work`)."""
    from qa.answering.assistant import Assistant

    corpus = work / "leaflets"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in questions:
        shutil.copy(path.with_suffix(".md"), corpus / path.with_suffix(".md").name)
    settings = settings.with_(corpus_dir=corpus, index_dir=work / "leaflet-index")
    assistant = Assistant.load(settings, embedder=embedder, triage=False, calibrated=False)
    return assistant.replace(**parts) if parts else assistant

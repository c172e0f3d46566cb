"""A reader soup: readers trained alike from the same start, their weights
averaged ("model soup"), and the finished members kept so that a soup longer
than a working session can be trained across two."""

from __future__ import annotations

import shutil
from pathlib import Path


def average(models: list):
    """The first model with every floating-point weight replaced by the mean of
    the models' (all trained from the same start, so their weights stay close
    enough that their mean is a reader too)."""
    import torch

    if len(models) == 1:
        return models[0]
    states = [m.state_dict() for m in models]
    mean = {
        name: torch.stack([s[name] for s in states]).mean(dim=0) if value.is_floating_point() else value
        for name, value in states[0].items()
    }
    models[0].load_state_dict(mean)
    return models[0].eval()


def save_member(model, tokenizer, folder: Path) -> None:
    """A finished member's torch weights (safetensors, no pickle) and tokenizer in `folder`."""
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    staging.rename(folder)  # whole or not at all: a run stopped mid-save trains it again


def load_member(folder: Path):
    """(model, tokenizer) as `save_member` kept them."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder), local_files_only=True, dtype=torch.float32, attn_implementation="eager"
    )
    return model.eval(), AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

import json

import pytest

from qa.training.train import TrainConfig, subset


def test_the_two_halves_split_the_questions_stably_whatever_their_order():
    items = [{"id": f"t{n:04d}"} for n in range(400)]
    first, second = subset(items, 0.5, 14), subset(items, 0.5, 14, part=1)
    assert {i["id"] for i in first}.isdisjoint(i["id"] for i in second)
    assert len(first) + len(second) == len(items) and 150 < len(first) < 250
    assert [i["id"] for i in subset(items[::-1], 0.5, 14)] == [i["id"] for i in first][::-1]
    assert len(subset(items, 0.25, 13)) < len(subset(items, 0.5, 13))


def test_a_training_config_states_the_rule_it_breaks():
    with pytest.raises(ValueError, match="fraction"):
        TrainConfig(fraction=0)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=1)


LEAFLET = (
    "# Mouth care\n\n## Sore mouth\n\nRinse your mouth with salt water four times a day. Use a soft toothbrush. "
    "Sip cool drinks through the day.\n\n## Dry mouth\n\nChewing sugar-free gum helps saliva flow.\n"
)


def leaflet_item(id_, question, answers, answerable=True):
    return {"id": id_, "question": question, "history": [], "answerable": answerable, "answers": answers, "sources": [],
            "kind": "single" if answerable else "unanswerable", "split": "train", "urgent": False,
            "unanswerable_type": None if answerable else "near-miss", "long": False}


def test_the_answer_model_learns_from_the_training_leaflets_never_the_held_out_writers(tiny_settings, tmp_path):
    from conftest import FakeEmbedder

    from qa.training.leaflets import HELD_OUT_WRITER
    from qa.training.train import leaflet_rows

    leaflets = tmp_path / "leaflets"
    leaflets.mkdir()
    for writer in ("la", HELD_OUT_WRITER):
        (leaflets / f"mouth-{writer}.md").write_text(LEAFLET, encoding="utf-8")
        rows = [leaflet_item(f"{writer}01001", "how often should i rinse my mouth", ["four times a day"]),
                leaflet_item(f"{writer}01002", "can i drink wine with a sore mouth", [], answerable=False)]
        (leaflets / f"mouth-{writer}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    found = leaflet_rows(tiny_settings, FakeEmbedder(), tmp_path / "work", leaflets)
    assert [item["id"] for item, *_ in found] == ["la01001", "la01002"]
    (_, _, candidates, gold), (_, _, _, none) = found
    # Read from the leaflet's own index: the rinsing sentence is a candidate and the gold unit.
    assert any("four times a day" in c.unit.text for c in candidates if c.uid in gold) and not none


def test_qa_train_fits_the_answer_model_on_the_training_leaflets_unless_told_not_to(monkeypatch):
    from pathlib import Path

    import qa.training.train as train
    from qa.apps.cli import main

    seen = []
    monkeypatch.setattr(train, "run_train", lambda args, settings: seen.append(args) or 0)
    assert main(["train"]) == 0 and main(["train", "--no-leaflets"]) == 0
    assert seen[0].leaflets == Path("train/leaflets") and not seen[0].no_leaflets
    assert seen[1].no_leaflets


def test_qa_train_mines_its_examples_from_as_many_passages_as_the_shipped_models_learned_from(tmp_path, monkeypatch):
    """The product reads Settings.top_k passages (chosen on dev); `qa train` mines
    from TRAINING_TOP_K, the recipe the shipped models were trained with."""
    from types import SimpleNamespace

    import qa.index.embed as embed
    import qa.training.train as train
    from qa.settings import TRAINING_TOP_K, Settings

    seen = []

    def bare(settings, embedder, memory=None):
        seen.append(settings)
        raise RuntimeError("stop here")

    monkeypatch.setattr(train, "bare_assistant", bare)
    monkeypatch.setattr(embed, "Embedder", lambda *a, **k: None)
    data = tmp_path / "questions.jsonl"
    data.write_text(json.dumps(leaflet_item("q1", "what is zometa", ["Zometa is a drug."])) + "\n", encoding="utf-8")
    args = SimpleNamespace(epochs=1, seed=1, fraction=1.0, data=data)
    with pytest.raises(RuntimeError, match="stop here"):
        train.run_train(args, Settings(top_k=TRAINING_TOP_K + 4))
    assert seen[0].top_k == TRAINING_TOP_K

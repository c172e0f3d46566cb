"""The leaflet sets no model trained on (qa.evaluation.blind): which sets count,
each answered from its own index, and the report."""

import json

from qa.evaluation.blind import blind_sets, report, run_blind, trained_on
from test_train_reader import write_leaflets


def _two_folders(tmp_path):
    trained, fresh = tmp_path / "leaflets", tmp_path / "leaflets-new"
    write_leaflets(trained, "la")  # a writer the models learned from
    (trained / "mouth-la.md").rename(trained / "gums-la.md")
    (trained / "mouth-la.jsonl").rename(trained / "gums-la.jsonl")
    held_out = tmp_path / "held"
    write_leaflets(held_out, "lc")  # the held-out writer, beside them
    for path in held_out.iterdir():
        path.rename(trained / path.name)
    write_leaflets(fresh, "lz")
    return trained, fresh


def test_a_folder_the_models_trained_on_counts_only_for_its_held_out_writer(fake_assistant, tmp_path):
    trained, fresh = _two_folders(tmp_path)
    card = fake_assistant.settings.answer_model() / "training.json"
    card.write_text(json.dumps({"answer model leaflets": str(trained)}), encoding="utf-8")
    assert trained_on(fake_assistant) == {str(trained)}
    sets = blind_sets(fake_assistant, (trained, fresh, tmp_path / "missing"))
    assert {name: [p.name for p in files] for name, files in sets.items()} == {
        "leaflets, writer lc": ["mouth-lc.jsonl"], "leaflets-new": ["mouth-lz.jsonl"],
    }


def test_each_set_is_answered_from_its_own_index_and_reported(fake_assistant, tmp_path):
    trained, fresh = _two_folders(tmp_path)
    figures = run_blind(fake_assistant, (trained, fresh))  # no card names them: every writer counts
    assert set(figures) == {"leaflets", "leaflets-new", "all together"}
    assert figures["leaflets"]["n"] == 4 and figures["leaflets-new"]["n"] == 2 and figures["all together"]["n"] == 6
    assert all(0.0 <= f["answer accuracy"] <= 1.0 for f in figures.values())
    text = report(figures, fake_assistant)
    assert text.startswith("# Leaflets no model trained on") and "| leaflets-new | 2 |" in text

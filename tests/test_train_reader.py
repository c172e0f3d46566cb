"""`qa train-reader` end to end on a tiny corpus: groups of the right shape,
the held-out writer's leaflets never used, an exported reader that loads and
scores, and its card."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from qa.answering.reader import READER_FILE, load_reader
from qa.training.leaflets import leaflet_files
from qa.training.reader import ReaderConfig, question_groups, run_train_reader


def item(id_, question, answers, answerable=True):
    return {"id": id_, "question": question, "history": [], "answerable": answerable, "answers": answers,
            "sources": [], "kind": "single" if answerable else "unanswerable", "split": "train", "urgent": False,
            "unanswerable_type": None if answerable else "off-topic", "long": False}


QUESTIONS = [
    item("ta1", "what side effects does zometa have", ["headache"]),
    item("ta2", "what does back pain with weak legs mean", ["Back pain with leg weakness can mean spinal cord compression."]),
    item("ta3", "what can high calcium do", ["extreme thirst and confusion"]),
    item("ta4", "how do I renew my passport", [], answerable=False),
]
LEAFLET = (
    "# Mouth care\n\n## Sore mouth\n\nRinse your mouth with salt water four times a day. Use a soft toothbrush. "
    "Sip cool drinks through the day. Soft foods are easier to eat.\n\n## Dry mouth\n\nChewing sugar-free gum "
    "helps saliva flow. Keep your lips moist with a balm.\n\n## When to call\n\nCall your team if you cannot drink.\n"
)


def write_leaflets(folder, writer):
    folder.mkdir()
    (folder / f"mouth-{writer}.md").write_text(LEAFLET, encoding="utf-8")
    rows = [item(f"{writer}01001", "how often should i rinse", ["four times a day"]),
            item(f"{writer}01002", "what toothbrush is best", ["Use a soft toothbrush."])]
    (folder / f"mouth-{writer}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_each_group_puts_the_answer_first_and_has_a_fixed_size(fake_assistant):
    groups = question_groups(fake_assistant, QUESTIONS, ReaderConfig(negatives=2), random.Random(0))
    assert groups and all(len(g.texts) == 3 for g in groups)
    answered = [g for g in groups if g.answerable]
    assert any("headache" in g.texts[0] for g in answered)
    assert all(not any("headache" in t for t in g.texts[1:]) for g in answered if "zometa" in g.query)
    assert any(not g.answerable for g in groups)  # the passport question: negatives only


def test_the_unanswerable_cap_holds_for_the_five_texts_not_for_the_leaflets(fake_assistant):
    """A shared cap let the leaflets' share of unanswerable questions fall as
    leaflets were added; each leaflet's are all kept."""
    capped = question_groups(fake_assistant, QUESTIONS, ReaderConfig(negatives=2, unanswerable=0), random.Random(0))
    kept = question_groups(fake_assistant, QUESTIONS, ReaderConfig(negatives=2, unanswerable=0), random.Random(0),
                           all_unanswerable=True)
    assert not any(not g.answerable for g in capped)
    assert sum(not g.answerable for g in kept) == 1
    assert [g for g in kept if g.answerable] == [g for g in capped if g.answerable]


def test_a_wrong_unit_too_close_to_the_answer_is_not_used_as_a_negative(fake_assistant):
    """negative_max_cosine: a "wrong" unit nearly the answer in other words
    would teach the reader to doubt right answers; at a tiny bound every
    answered group loses its ranked negatives, so fewer groups fill up."""
    plain = question_groups(fake_assistant, QUESTIONS, ReaderConfig(negatives=2), random.Random(0))
    strict = question_groups(fake_assistant, QUESTIONS, ReaderConfig(negatives=2, negative_max_cosine=1e-6), random.Random(0))
    assert sum(g.answerable for g in strict) < sum(g.answerable for g in plain)
    assert sum(not g.answerable for g in strict) == sum(not g.answerable for g in plain)  # no answer, nothing to be near


def test_the_held_out_writers_leaflets_are_never_trained_on(tmp_path):
    leaflets = tmp_path / "leaflets"
    leaflets.mkdir()
    for writer in ("la", "lc"):
        (leaflets / f"m-{writer}.jsonl").write_text(json.dumps({"id": f"{writer}01001"}) + "\n", encoding="utf-8")
    assert [p.name for p in leaflet_files(leaflets, "lc", held_out=False)] == ["m-la.jsonl"]
    assert [p.name for p in leaflet_files(leaflets, "lc", held_out=True)] == ["m-lc.jsonl"]


@pytest.mark.slow
def test_train_reader_writes_a_reader_that_loads_and_scores(tiny_settings, tmp_path):
    # The questions in two files, as the five texts' training set and its next round are.
    data = [tmp_path / "questions.jsonl", tmp_path / "questions-next.jsonl"]
    data[0].write_text("\n".join(json.dumps(q) for q in QUESTIONS[:-1]) + "\n", encoding="utf-8")
    data[1].write_text(json.dumps(QUESTIONS[-1]) + "\n", encoding="utf-8")
    leaflets = tmp_path / "leaflets"
    write_leaflets(leaflets, "la")
    args = SimpleNamespace(epochs=1, seed=1, no_leaflets=False, base="bundled", leave_out=None, data=data,
                           leaflets=leaflets, out=tmp_path / "reader", keep_torch=None, layers=None, teacher=None,
                           soup=None)
    assert run_train_reader(args, tiny_settings) == 0
    card = json.loads((tmp_path / "reader" / READER_FILE).read_text())
    assert card["groups"]["leaflets"] >= 1 and card["config"]["base"] == "bundled"
    assert card["training data"][:2] == [str(p) for p in data]
    assert card["groups"]["questions-next"] == 1  # the next round's groups, counted by its name
    reader = load_reader(tmp_path / "reader")
    scores = reader.score("what side effects does zometa have", ["headache [SEP] Bone | Side effects | ", "Walking helps."])
    assert scores.shape == (2,) and np.isfinite(scores).all()
    # A smaller student taught by that reader: its card names the teacher and its layers.
    student = SimpleNamespace(**{**vars(args), "out": tmp_path / "student", "layers": 2, "teacher": tmp_path / "reader"})
    assert run_train_reader(student, tiny_settings) == 0
    card = json.loads((tmp_path / "student" / READER_FILE).read_text())
    assert card["config"]["teacher"] == str(tmp_path / "reader") and card["config"]["layers"] == 2
    assert np.isfinite(load_reader(tmp_path / "student").score("what side effects does zometa have", ["headache"])).all()


@pytest.mark.slow
def test_a_student_learns_its_teachers_logits_not_only_the_labels():
    """Distillation: the teacher's logits are targets beside the labels, so the
    student's logits come near them (with the labels alone they need not)."""
    import torch

    from qa.index.embed import bundled_model_path
    from qa.training.reader import Group, train

    taught = (6.0, 1.0, -4.0)
    groups = [Group("what side effects does zometa have", ("Headache is common.", "Flu-like aches.", "Walking helps."), True, taught)]

    def logits(config):
        model, tokenizer = train(groups, bundled_model_path(), config, log=lambda _: None)
        with torch.inference_mode():
            feeds = tokenizer([groups[0].query] * 3, list(groups[0].texts), padding=True, return_tensors="pt")
            return model(**feeds).logits.reshape(3).numpy()

    config = ReaderConfig(epochs=60, groups_per_batch=1, warmup_steps=1, layers=1, learning_rate=1e-3, head_learning_rate=1e-2)
    student = logits(replace(config, teacher="a reader"))
    labels_only = logits(config)
    assert np.abs(student - taught).mean() < 1.0
    assert np.abs(student - taught).mean() < np.abs(labels_only - taught).mean()


def test_a_soup_is_the_mean_of_its_members_weights():
    import torch

    from qa.training.soup import average

    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    a.register_buffer("steps", torch.tensor([7]))  # a whole-number buffer is not averaged
    b.register_buffer("steps", torch.tensor([9]))
    expected = (a.weight.detach() + b.weight.detach()) / 2
    soup = average([a, b])
    assert torch.allclose(soup.weight, expected) and soup.steps.item() == 7
    assert average([b]) is b


@pytest.mark.slow
def test_a_soup_of_two_averages_two_readers_trained_in_other_orders():
    """Each member starts alike and sees the groups in its own order, so the
    members differ and the soup is their mean (member 0 is the single reader)."""
    import torch

    from qa.index.embed import bundled_model_path
    from qa.training.reader import Group, train, train_member

    groups = [Group(f"question {n} about zometa", (f"Answer {n}.", "Walking helps.", "Rest helps."), True) for n in range(6)]
    config = ReaderConfig(epochs=1, groups_per_batch=2, warmup_steps=1, layers=1, soup=2)
    quiet = lambda _: None  # noqa: E731
    first, _ = train_member(groups, bundled_model_path(), config, 0, quiet)
    second, _ = train_member(groups, bundled_model_path(), config, 1, quiet)
    soup, _ = train(groups, bundled_model_path(), config, quiet)
    name = "classifier.weight"
    one, two, mean = (m.state_dict()[name] for m in (first, second, soup))
    assert not torch.allclose(one, two)
    assert torch.allclose(mean, (one + two) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="soup"):
        ReaderConfig(soup=0)


@pytest.mark.slow
def test_the_watch_hook_sees_the_model_in_eval_mode_after_each_epoch():
    from qa.index.embed import bundled_model_path
    from qa.training.reader import Group, train

    groups = [Group("what side effects does zometa have", ("Headache is common.", "Walking helps."), True),
              Group("how do I renew my passport", ("Walking helps.", "Rest helps."), False)]
    seen = []

    def watch(model, tokenizer, epoch):
        seen.append((epoch, model.training))
        assert tokenizer("a question", "a unit")["input_ids"]

    config = ReaderConfig(epochs=2, groups_per_batch=2, warmup_steps=1, layers=3)
    model, _ = train(groups, bundled_model_path(), config, log=lambda _: None, watch=watch)
    assert seen == [(1, False), (2, False)] and not model.training
    assert model.config.num_hidden_layers == config.layers == 3  # the first 3 of MiniLM's 6


def test_a_reader_asking_for_more_layers_than_its_base_has_is_refused(tmp_path):
    from qa.errors import TrainingDataError
    from qa.training.reader import Group, train

    (tmp_path / "config.json").write_text('{"num_hidden_layers": 2}', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="2 transformer layers"):
        train([Group("q", ("a", "b"), True)], tmp_path, ReaderConfig(layers=3), log=lambda _: None)


def test_an_epochs_batches_hold_every_group_once_each_batch_of_similar_length():
    from qa.training.reader import Group, batches

    rng = random.Random(0)
    groups = [Group("q" * rng.choice([20, 40, 300, 900]), ("t" * rng.randint(50, 200),), True) for _ in range(1000)]
    epoch = batches(groups, 8, random.Random(1), bucket=16)
    assert len(epoch) == 125 and sorted(map(id, (g for b in epoch for g in b))) == sorted(map(id, groups))

    def spread(batch):
        lengths = [len(g.query) + len(g.texts[0]) for g in batch]
        return max(lengths) - min(lengths)

    shuffled = list(groups)
    random.Random(1).shuffle(shuffled)
    unsorted = [shuffled[i:i + 8] for i in range(0, 1000, 8)]
    assert batches(groups, 8, random.Random(1)) == unsorted  # no bucket: plain shuffled batches
    # Padding follows the longest pair in a batch: bucketed batches waste far less.
    assert sum(map(spread, epoch)) < 0.2 * sum(map(spread, unsorted))
    # and the batches still come in random order, long and short mixed
    widths = [max(len(g.query) for g in b) for b in epoch]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)


def test_the_sentences_either_side_of_the_answer_are_negatives_when_asked_for(tiny_settings, tmp_path):
    from conftest import FakeEmbedder
    from qa.training.leaflets import leaflet_assistant

    write_leaflets(tmp_path / "leaflets", "la")
    assistant = leaflet_assistant(tiny_settings, FakeEmbedder(), tmp_path / "work", [tmp_path / "leaflets" / "mouth-la.jsonl"])
    asked = [item("la01002", "what toothbrush is best", ["Use a soft toothbrush."])]

    def negatives(**config):
        (group,) = question_groups(assistant, asked, ReaderConfig(**config), random.Random(0))
        assert group.texts[0].startswith("Use a soft toothbrush.")
        return [t.split(" [SEP] ")[0] for t in group.texts[1:]]

    both = negatives(negatives=2, neighbours=2)
    # short sentences are read together: the answer's unit ends with "Sip cool drinks..."
    assert both == ["Soft foods are easier to eat.", "Rinse your mouth with salt water four times a day."]
    assert negatives(negatives=2, neighbours=1)[0] == "Soft foods are easier to eat."
    assert "Rinse your mouth with salt water four times a day." not in negatives(negatives=2, neighbours=0)


@pytest.mark.slow
def test_a_soups_finished_members_are_kept_and_taken_again(tmp_path, monkeypatch):
    """A soup longer than a working session: a run stopped after its first member
    starts from that member next time, and the soup is the same."""
    import torch

    import qa.training.reader as trainer
    from qa.index.embed import bundled_model_path
    from qa.training.reader import Group, train

    groups = [Group(f"question {n} about zometa", (f"Answer {n}.", "Walking helps."), True) for n in range(4)]
    config = ReaderConfig(epochs=1, groups_per_batch=2, warmup_steps=1, layers=1, soup=2)
    quiet = lambda _: None  # noqa: E731
    members = tmp_path / "members"
    soup, _ = train(groups, bundled_model_path(), config, quiet, members=members)
    assert sorted(p.name for p in members.iterdir()) == ["member-0", "member-1"]
    member_1 = members / "member-1"
    import shutil

    shutil.rmtree(member_1)  # as if stopped while training member 1
    trained = []
    real = trainer.train_member
    monkeypatch.setattr(trainer, "train_member", lambda *a, **k: trained.append(a[3]) or real(*a, **k))
    again, _ = train(groups, bundled_model_path(), config, quiet, members=members)
    assert trained == [1]  # member 0 was taken from the folder
    name = "classifier.weight"
    assert torch.allclose(soup.state_dict()[name], again.state_dict()[name], atol=1e-6)


def test_every_question_file_the_reader_reads_is_checked_for_dev_or_test_items(tmp_path):
    from qa.training.reader import training_groups

    good, bad = tmp_path / "questions.jsonl", tmp_path / "questions-next.jsonl"
    good.write_text(json.dumps(QUESTIONS[0]) + "\n", encoding="utf-8")
    bad.write_text(json.dumps({**QUESTIONS[1], "split": "dev"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="questions-next.jsonl holds dev or test items"):
        training_groups(None, ReaderConfig(), (good, bad), tmp_path / "leaflets")


def test_qa_train_reader_reads_the_training_set_or_every_file_it_is_given(monkeypatch, tmp_path):
    from pathlib import Path

    import qa.training.reader as training
    from qa.apps.cli import _parser

    seen = []
    monkeypatch.setattr(training, "build_reader", lambda settings, config, data, *a, **k: seen.append(data))
    for argv in (["train-reader"], ["train-reader", "--data", str(tmp_path / "a.jsonl"), "--data", str(tmp_path / "b.jsonl")]):
        training.run_train_reader(_parser().parse_args(argv), None)
    assert seen == [training.READER_DATA, (tmp_path / "a.jsonl", tmp_path / "b.jsonl")]
    assert all(path.is_file() for path in training.READER_DATA)


def test_make_train_trains_the_reader_on_what_the_shipped_reader_read():
    """`make train` must give the shipped models again: its reader's default data
    are the files the shipped reader's card names, and its calibration chooses the
    reader's share as the shipped calibration's was chosen (it records one)."""
    import json
    from pathlib import Path

    import qa.training.reader as training

    card = json.loads(Path("models/reader/reader.json").read_text(encoding="utf-8"))
    assert card["training data"] == [*map(str, training.READER_DATA), "train/leaflets"]
    assert card["left out"] == [] and card["config"] == json.loads(json.dumps(training.asdict(training.ReaderConfig())))
    calibration = json.loads(Path("models/bonemets-minilm/calibration.json").read_text(encoding="utf-8"))
    assert "reader_blend" in calibration
    recipe = Path("Makefile").read_text(encoding="utf-8").split("\ntrain:")[1].split("\n\n")[0]
    assert "qa train-reader\n" in recipe and "qa calibrate --choose-blend" in recipe


def test_the_reader_mines_its_negatives_from_as_many_passages_as_the_shipped_models_learned_from(tmp_path, monkeypatch):
    """The product reads more passages than the models learned from (Settings.top_k, chosen on
    dev); a retrain mines its examples from TRAINING_TOP_K, as the shipped models' were."""
    from qa.answering.assistant import Assistant
    from qa.settings import TRAINING_TOP_K, Settings
    from qa.training.reader import training_groups

    seen = []

    def load(settings, **kwargs):
        seen.append(settings)
        raise RuntimeError("stop here")

    monkeypatch.setattr(Assistant, "load", load)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps(QUESTIONS[0]) + "\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="stop here"):
        training_groups(Settings(top_k=TRAINING_TOP_K + 4), ReaderConfig(), (questions,), tmp_path / "leaflets")
    assert seen[0].top_k == TRAINING_TOP_K and Settings().top_k != TRAINING_TOP_K

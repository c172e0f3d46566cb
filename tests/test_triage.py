"""Triage (qa/answering/triage.py): urgent signs happening now bring the red box,
a topic only touched brings the calm note; the saved model is refused when it
reads otherwise than the code."""

import json

import numpy as np
import pytest
from conftest import FakeEmbedder, fake_triage, write_fake_answer_model

from qa.answering.triage import (
    TOPICS,
    WORDS_FILE,
    Triage,
    TriageInput,
    WordPatterns,
    load_triage,
)
from qa.apps.chat import render_answer, to_plain
from qa.errors import AnswerModelError


class Fixed:
    """A triage step that always says the same thing."""

    def __init__(self, triage: Triage) -> None:
        self.triage = triage

    def assess(self, turn: TriageInput) -> Triage:
        return self.triage


def test_a_sign_happening_now_brings_the_red_box(fake_assistant):
    answer = fake_assistant.replace(triage=Fixed(Triage(("cord",), (), (0.9, 0.0, 0.0)))).ask("what is zometa?")
    assert answer.urgent is not None and answer.help_note is None
    assert "role=\"alert\"" in render_answer(answer) and to_plain(answer).startswith("URGENT:")


def test_a_topic_only_touched_brings_the_calm_note_below_the_answer(fake_assistant):
    answer = fake_assistant.replace(triage=Fixed(Triage((), ("cord",), (0.01, 0.0, 0.0)))).ask("what is zometa?")
    assert answer.urgent is None and answer.help_note is not None
    html = render_answer(answer)
    assert 'class="qa-help"' in html and "qa-urgent" not in html and 'role="alert"' not in html
    assert html.index("qa-units") < html.index("qa-help") < html.index("qa-sources")
    assert "When to get help:" in to_plain(answer) and answer.to_json()["when_to_get_help"]


def test_an_unsure_sign_on_an_unanswered_question_shows_the_advice_above_the_refusal(fake_assistant):
    unsure = fake_assistant.replace(triage=Fixed(Triage(("cord",), (), (0.2, 0.0, 0.0))))
    answer = unsure.ask("how do I renew my passport?")
    assert answer.abstained and answer.urgent is not None
    sure = fake_assistant.replace(triage=Fixed(Triage(("cord",), (), (0.9, 0.0, 0.0)))).ask("how do I renew my passport?")
    assert not sure.abstained and sure.urgent is not None  # the advice is the answer


def test_triage_reads_the_earlier_turn(fake_assistant):
    seen = []

    class Recording(Fixed):
        def assess(self, turn):
            seen.append(turn)
            return Triage()

    fake_assistant.replace(triage=Recording(Triage())).ask("what should I do?", ["my legs went numb today"])
    turn, before = seen  # this turn, then the turn before on its own
    assert "numb" in turn.earlier and turn.earlier_vector is not None and turn.vector is not None
    assert "numb" in before.message and before.earlier == "" and before.earlier_vector is None


class ByMessage(Fixed):
    """Urgent (cord, at this chance) for a message naming numb legs, else nothing."""

    def assess(self, turn: TriageInput) -> Triage:
        return self.triage if "numb" in turn.message else Triage()


@pytest.mark.parametrize("chance, kept", [(0.9, True), (0.2, False)])
def test_a_sign_the_turn_before_was_sure_of_stays_for_the_next_turn(fake_assistant, chance, kept):
    assistant = fake_assistant.replace(triage=ByMessage(Triage(("cord",), (), (chance, 0.0, 0.0))))
    history = ["this morning my legs went numb"]
    assert (assistant.ask("I should say it is in my spine, does that change anything?", history).urgent is not None) == kept
    assert assistant.ask("I should say it is in my spine, does that change anything?").urgent is None
    # Only the turn just before counts: two messages on, it is for the triage of the turns between.
    assert assistant.ask("and what about zometa?", [*history, "what should I do?"]).urgent is None


def test_the_saved_triage_is_refused_when_it_reads_otherwise(tmp_path):
    folder = write_fake_answer_model(tmp_path / "m")
    assert load_triage(folder, 64).urgent_min == (0.5, 0.5, 0.5)
    with pytest.raises(AnswerModelError, match="other features"):
        load_triage(folder, 384)  # another embedding model's vectors
    words = tmp_path / "words.json"
    data = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    data["now"] += "|tonite"
    words.write_text(json.dumps(data))
    with pytest.raises(AnswerModelError, match="other features"):
        load_triage(folder, 64, WordPatterns(words))
    saved = json.loads((folder / "triage.json").read_text())
    saved["layers"][0]["bias"][0] = float("nan")
    (folder / "triage.json").write_text(json.dumps(saved))  # Python writes NaN, as a damaged file might hold
    with pytest.raises(AnswerModelError, match="not finite"):
        load_triage(folder, 64)


def test_the_fake_triage_follows_the_rules_in_the_message_only():
    model = fake_triage()
    vector = np.zeros(FakeEmbedder.dimension)
    assert model.assess(TriageInput("my legs are weak and numb", "", vector)).urgent == ("cord",)
    assert model.assess(TriageInput("what is zometa?", "my legs are weak and numb", vector, vector)).urgent == ()
    assert set(TOPICS) == {"cord", "calcium", "fracture"}


def test_a_limb_the_wrong_shape_in_lay_words_is_a_fracture_sign():
    # Writers of the urgent messages say "a weird shape", "pointing outwards", "crooked"
    # far more often than "deformed"; a swollen arm alone is lymphoedema as often as a break.
    (deformity,) = [p for p in WordPatterns().signs["fracture"] if p.search("it looks deformed")]
    for said in ("her wrist is a weird shape", "his foot is pointing outwards", "my forearm looks crooked", "it looks misshapen"):
        assert deformity.search(said), said
    assert not deformity.search("my arm is swollen since the lymph nodes came out")


def test_fitting_sets_each_topics_threshold_for_recall_first():
    from qa.answering.triage import CLASSES
    from qa.training.triage import URGENT_RECALL, fit_triage

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(CLASSES)), 40)
    x = rng.normal(size=(len(y), 12)) + np.eye(len(CLASSES), 12)[y] * 1.5  # overlapping classes
    layers, urgent_min, mean, scale, dev = fit_triage(x[::2], y[::2], x[1::2], y[1::2], seed=1)
    for k, topic in enumerate(TOPICS):
        c = CLASSES.index(f"urgent:{topic}")
        assert (dev[y[1::2] == c, c] >= urgent_min[k]).mean() >= URGENT_RECALL - 0.05
    assert len(layers) == 2 and np.all(scale == 1.0)


def test_only_unanswerable_questions_naming_no_sign_become_messages_with_none(tmp_path):
    from qa.training.triage import other_questions

    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "cheapest flights to hawaii?", "history": [], "answerable": False},
        {"id": "b", "question": "my legs went numb today, what dose of tramadol?", "history": [], "answerable": False},
        {"id": "c", "question": "what is zometa?", "history": [], "answerable": True},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [m["id"] for m in other_questions(path)] == ["a"]
    assert other_questions(path)[0]["label"] == "none" and other_questions(path)[0]["split"] == "train"


def test_training_leaflets_questions_naming_no_sign_become_messages_with_none(tmp_path):
    from qa.training.triage import leaflet_questions

    def write(name, rows):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"history": [], **r}) + "\n" for r in rows))

    write("mouth-care", [{"id": "la01", "question": "can i use mouthwash during chemo"},
                         {"id": "la02", "question": "both my legs went numb, is it the chemo?"}])
    write("fatigue", [{"id": "lc01", "question": "why am i so tired"}])  # the held-out writer's
    messages = leaflet_questions(tmp_path, held_out="lc")
    assert [m["message"] for m in messages] == ["can i use mouthwash during chemo"]
    assert messages[0]["label"] == "none" and messages[0]["split"] == "train"
    assert leaflet_questions(tmp_path / "missing") == []


def test_other_topics_questions_are_read_from_the_writers_asked_for(tmp_path):
    from qa.evaluation.triage import other_topic_messages

    # One writer per leaflet, as in train/leaflets*/.
    (tmp_path / "fatigue.jsonl").write_text(json.dumps({"id": "lc01", "question": "why am i so tired", "history": []}) + "\n")
    (tmp_path / "mouth.jsonl").write_text(json.dumps({"id": "la01", "question": "is mouthwash ok", "history": []}) + "\n")
    assert [m["message"] for m in other_topic_messages(((tmp_path, "lc"),))] == ["why am i so tired"]
    assert len(other_topic_messages(((tmp_path, ""), (tmp_path / "missing", "")))) == 2
    assert all(m["label"] == "none" for m in other_topic_messages(((tmp_path, ""),)))


def test_an_answer_unit_inside_the_urgent_advice_is_not_shown_twice(fake_assistant):
    urgent = fake_assistant.replace(triage=Fixed(Triage(("calcium",), (), (0.9, 0.9, 0.0))))
    answer = urgent.ask("does high calcium in the blood cause extreme thirst and confusion?")
    assert answer.urgent is not None and "extreme thirst" in answer.urgent.text  # the advice with the signs it means
    assert not any(u.text in answer.urgent.text for u in answer.units), [u.text for u in answer.units]


def test_a_triage_trained_on_another_embedding_model_is_refused(tmp_path):
    folder = write_fake_answer_model(tmp_path / "m")
    assert load_triage(folder, 64, fingerprint=FakeEmbedder.fingerprint) is not None
    with pytest.raises(AnswerModelError, match="another embedding model"):
        load_triage(folder, 64, fingerprint="a retrained model")


def test_the_triage_table_has_a_row_per_writer_of_each_split(fake_assistant):
    from qa.evaluation.triage import triage_rows

    def message(text, label, topic, writer, split):
        return {"id": text, "message": text, "history": [], "label": label, "topic": topic, "writer": writer, "split": split, "pattern": "x"}

    messages = [
        message("my legs went numb an hour ago and i cant walk, cancer in my spine", "urgent", "cord", "w4", "dev"),
        message("the scan showed it is in my spine now, what happens next", "topic", "cord", "w7", "dev"),
        message("what is spinal cord compression", "topic", "cord", "w5", "heldout"),
    ]
    rows = triage_rows(fake_assistant, messages)
    assert list(rows) == [f"{name} ({writer}), {who}" for name, writer in (("held-out", "w5"), ("dev", "w4"), ("dev", "w7"))
                          for who in ("trained triage", "the urgent-sign rules alone")]
    assert rows["dev (w4), trained triage"]["n"] == 1 and rows["dev (w4), trained triage"]["recall cord"] == 1.0
    assert rows["dev (w7), trained triage"]["recall cord"] is None


def test_a_long_post_is_read_window_by_window_against_its_own_thresholds():
    """A sign told in passing in a long post is drowned in the post's vector: each
    run of three sentences is read as a short message, and the highest chance of
    each sign counts, against the long posts' thresholds."""
    from dataclasses import replace

    from qa.answering.triage import windows

    vector = np.zeros(FakeEmbedder.dimension)
    quiet = TriageInput("We had the grandchildren all week.", "", vector)
    told = TriageInput("Oh and my legs are weak and numb since yesterday.", "", vector)
    model = replace(fake_triage(), long_words=5, long_urgent_min=(0.5, 0.5, 0.5))
    assert model.assess_long(quiet, [quiet, told]).urgent == ("cord",)
    assert model.assess_long(quiet, [quiet]).urgent == ()
    strict = replace(model, long_urgent_min=(1.1, 1.1, 1.1))
    assert strict.assess_long(quiet, [told]).urgent == ()
    assert strict.assess_long(quiet, [told]).chance[0] > 0.5
    # Every sentence is in some window: the whole post is read for a sign only when it has none.
    assert model.assess_long(told, [quiet, quiet]).urgent == ()
    assert model.assess_long(told, []).urgent == ("cord",)
    text = "One. Two. Three. Four. Five."
    assert windows(text) == ["One. Two. Three.", "Two. Three. Four.", "Three. Four. Five."]
    assert windows("One. Two. Three.") == []


def test_only_a_post_longer_than_the_models_long_words_is_read_in_windows(fake_assistant, monkeypatch):
    from dataclasses import replace

    seen = []
    model = replace(fake_triage(), long_words=12, long_urgent_min=(0.5, 0.5, 0.5))
    monkeypatch.setattr(type(model), "assess_long", lambda self, whole, parts: seen.append(parts) or self.assess(whole))
    assistant = fake_assistant.replace(triage=model)
    assistant.ask("My mum has bone mets in her spine. What is zometa for?")
    assert seen == []
    long = "We had a lovely week. The grandchildren came. We went to the beach. Then she felt tired. What is zometa for?"
    assistant.ask(long)
    from qa.answering.triage import windows

    assert [p.message for p in seen[0]] == windows(long)


def test_the_long_thresholds_are_saved_and_checked(tmp_path):
    from dataclasses import replace

    folder = tmp_path / "m"
    folder.mkdir()
    replace(fake_triage(), long_words=80, long_urgent_min=(0.1, 0.2, 0.3)).save(folder, {})
    loaded = load_triage(folder, 64)
    assert loaded.long_words == 80 and loaded.long_urgent_min == (0.1, 0.2, 0.3)
    saved = json.loads((folder / "triage.json").read_text())
    del saved["long"]
    (folder / "triage.json").write_text(json.dumps(saved))
    with pytest.raises(AnswerModelError, match="damaged"):
        load_triage(folder, 64)


def test_fitting_leaves_long_posts_out_of_the_short_thresholds():
    from qa.answering.triage import CLASSES
    from qa.training.triage import fit_triage

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(CLASSES)), 40)
    x = rng.normal(size=(len(y), 12)) + np.eye(len(CLASSES), 12)[y] * 1.5
    x_train, y_train, x_dev, y_dev = x[::2], y[::2], x[1::2], y[1::2]
    _, plain, *_ = fit_triage(x_train, y_train, x_dev, y_dev, seed=1)
    # Urgent long posts the network scores otherwise (a sign told in passing), added to dev:
    urgent = [CLASSES.index(f"urgent:{t}") for t in TOPICS]
    x_long, y_long = -3 * np.eye(len(CLASSES), 12)[np.repeat(urgent, 5)], np.repeat(urgent, 5)
    x_all, y_all = np.vstack([x_dev, x_long]), np.concatenate([y_dev, y_long])
    _, lowered, *_ = fit_triage(x_train, y_train, x_all, y_all, seed=1)
    short = np.arange(len(y_all)) < len(y_dev)
    _, kept, *_ = fit_triage(x_train, y_train, x_all, y_all, seed=1, short_train=np.ones(len(y_train), bool), short_dev=short)
    assert kept == plain and lowered != plain


def test_long_posts_thresholds_keep_the_recall_target_of_their_urgent_posts():
    from qa.answering.triage import CLASSES
    from qa.training.triage import URGENT_RECALL, long_figures, long_thresholds

    rng = np.random.default_rng(1)
    labels = np.array([CLASSES.index(f"urgent:{t}") for t in TOPICS for _ in range(30)] + [CLASSES.index("none")] * 30)
    chances = rng.uniform(0, 1, size=(len(labels), len(TOPICS)))
    thresholds = long_thresholds(chances, labels)
    shown = long_figures(chances, labels, thresholds)
    assert all(shown[f"recall {t}"] >= URGENT_RECALL - 0.04 for t in TOPICS) and 0 < shown["false alarms"] <= 1
    with pytest.raises(ValueError, match="urgent posts"):
        long_thresholds(chances[labels != CLASSES.index("urgent:cord")], labels[labels != CLASSES.index("urgent:cord")])


def _deaf(model):
    """The model's network with every weight zero: it reads 'none' in everything."""
    (weights, bias), = model.layers
    return (tuple(tuple(0.0 for _ in row) for row in weights), bias)


def test_a_long_post_and_its_windows_are_read_by_the_long_posts_network():
    """The long posts' network learnt from windows telling of past, treated
    episodes; the short messages' network reads short messages and the calm note."""
    from dataclasses import replace

    vector = np.zeros(FakeEmbedder.dimension)
    quiet = TriageInput("We had the grandchildren all week.", "", vector)
    told = TriageInput("Oh and my legs are weak and numb since yesterday.", "", vector)
    model = replace(fake_triage(), long_words=5, long_urgent_min=(0.5, 0.5, 0.5))
    deaf = replace(model, long_layers=(_deaf(model),))
    assert model.assess_long(quiet, [told]).urgent == ("cord",)
    assert deaf.assess_long(quiet, [told]).urgent == () and deaf.assess_long(quiet, [told]).chance[0] < 0.5
    assert deaf.assess(told).urgent == ("cord",)


def test_the_long_posts_network_is_saved_and_checked(tmp_path):
    from dataclasses import replace

    folder = tmp_path / "m"
    folder.mkdir()
    model = replace(fake_triage(), long_words=80, long_urgent_min=(0.1, 0.2, 0.3))
    replace(model, long_layers=(_deaf(model),)).save(folder, {})
    loaded = load_triage(folder, 64)
    assert loaded.long_layers == (_deaf(model),) and loaded.layers == model.layers
    saved = json.loads((folder / "triage.json").read_text())
    saved["long"]["layers"][0]["bias"] = saved["long"]["layers"][0]["bias"][:-1]
    (folder / "triage.json").write_text(json.dumps(saved))
    with pytest.raises(AnswerModelError, match="another shape"):
        load_triage(folder, 64)
    model.save(folder, {})  # none of its own: long posts read by the short messages' network
    assert load_triage(folder, 64).long_layers == ()


def test_window_files_are_left_out_of_the_short_messages_training(tmp_path):
    from qa.training.triage import load_messages

    def write(name, ids):
        rows = [{"id": i, "message": "m", "history": [], "label": "none", "topic": None, "writer": "w", "split": "train", "pattern": "p"} for i in ids]
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    write("cord.jsonl", ["a", "b"])
    write("window-uk.jsonl", ["c"])
    assert [i["id"] for i in load_messages(tmp_path)] == ["a", "b", "c"]
    assert [i["id"] for i in load_messages(tmp_path, windows=False)] == ["a", "b"]

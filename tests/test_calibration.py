import numpy as np
import pytest

from qa.answering.calibration import Calibration, load_calibration
from qa.errors import AnswerModelError
from qa.evaluation.measure import expected_calibration_error
from qa.training.calibrate import choose_threshold, fit_platt


def test_platt_scaling_recovers_the_chance_of_being_right():
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 2, 4000)
    right = rng.random(4000) < 1 / (1 + np.exp(-(1.5 * raw - 0.5)))
    a, b = fit_platt(raw, right)
    assert a == pytest.approx(1.5, abs=0.2) and b == pytest.approx(-0.5, abs=0.2)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    confidence = np.array([0.8] * 10)
    assert expected_calibration_error(confidence, np.array([1] * 8 + [0] * 2, dtype=float)) == pytest.approx(0.0)
    assert expected_calibration_error(confidence, np.zeros(10)) == pytest.approx(0.8)


def test_the_threshold_refuses_at_most_the_allowed_share_of_answerable_questions():
    from qa.training.calibrate import MAX_FALSE_ABSTENTIONS

    answerable = np.array([True] * 100 + [False] * 20)
    confidence = np.concatenate([np.linspace(0.3, 1.0, 100), np.linspace(0.0, 0.5, 20)])
    threshold = choose_threshold(confidence, answerable)
    refused = confidence < threshold
    assert refused[answerable].mean() <= MAX_FALSE_ABSTENTIONS
    assert refused[~answerable].mean() > 0.5
    # the highest such threshold: one step higher refuses more than allowed
    assert (confidence < threshold + 0.01)[answerable].mean() > MAX_FALSE_ABSTENTIONS


def test_a_calibration_saves_and_loads(tmp_path):
    calibration = Calibration(2.0, -1.0, 0.4, "dev")
    calibration.save(tmp_path)
    assert load_calibration(tmp_path) == calibration
    assert calibration.probability(0.5) == pytest.approx(0.5)


def test_a_missing_or_damaged_calibration_names_the_fix(tmp_path):
    with pytest.raises(AnswerModelError, match="qa calibrate"):
        load_calibration(tmp_path)
    (tmp_path / "calibration.json").write_text('{"a": 1, "b": 0, "threshold": 7, "fitted_on": "dev"}')
    with pytest.raises(AnswerModelError, match="threshold"):
        load_calibration(tmp_path)


def test_recalibrated_swaps_a_part_in_and_fits_the_confidence_to_its_scores(fake_assistant):
    from conftest import FakeReader
    from qa.training.calibrate import recalibrated

    def item(question, answers):
        return {"id": question, "question": question, "history": [], "answerable": bool(answers), "answers": answers, "kind": "single"}

    dev = [
        item("what is a bisphosphonate?", ["Bisphosphonates are drugs that slow the breakdown of bone."]),
        item("what are the side effects of zometa?", ["headache"]),
        item("what should I do about back pain with leg weakness?", ["go to the emergency room right away"]),
        item("what causes extreme thirst?", ["High calcium in the blood can cause extreme thirst"]),
        item("how much does zometa cost?", ["fever and chills"]),  # a wrong answer, so both outcomes are seen
        item("can I eat grapefruit on holiday?", []),
    ]
    reader = FakeReader()
    variant = recalibrated(fake_assistant, dev, reader=reader)
    assert variant.unit_reader is reader and reader.calls  # the new part was read while fitting
    assert variant.calibration.reader_sha256 == "fake-reader" and variant.calibration.fitted_on == "dev"
    assert variant.calibration.reader_blend == fake_assistant.settings.reader_blend  # the share it was fitted with
    assert fake_assistant.unit_reader is None  # the original is untouched


def test_a_just_trained_model_without_a_calibration_loads_for_training_but_not_for_serving(tiny_settings):
    # `make train` runs `qa train` (which writes no calibration), then trains the
    # triage and the reader, and only then `qa calibrate`.
    from conftest import FakeEmbedder
    from qa.answering.assistant import Assistant

    (tiny_settings.answer_model() / "calibration.json").unlink()
    training = Assistant.load(tiny_settings, embedder=FakeEmbedder(), calibrated=False)
    assert training.calibration.fitted_on == "raw"
    with pytest.raises(AnswerModelError, match="qa calibrate"):
        Assistant.load(tiny_settings, embedder=FakeEmbedder())


def test_the_unseen_offset_is_the_shift_that_makes_the_confidence_true():
    from qa.training.calibrate import fit_offset

    rng = np.random.default_rng(1)
    z = rng.normal(1.0, 2.0, 6000)
    right = rng.random(6000) < 1 / (1 + np.exp(-(z - 0.9)))  # right less often than z says
    assert fit_offset(z, right) == pytest.approx(-0.9, abs=0.15)
    assert fit_offset(z, rng.random(6000) < 1 / (1 + np.exp(-z))) == pytest.approx(0.0, abs=0.15)
    assert fit_offset(z, np.zeros(6000, dtype=bool)) == -10.0  # none right: bounded, never infinite
    # Answers all at 0.9997 of which 85 % are right (long posts): Newton's steps swung between the bounds.
    sure = np.full(40, 8.0)
    assert fit_offset(sure, np.arange(40) < 34) == pytest.approx(np.log(0.85 / 0.15) - 8.0)


def test_only_an_answer_from_a_document_no_model_trained_on_shows_the_lowered_confidence():
    calibration = Calibration(1.0, 0.0, 0.5, "dev", unseen_offset=-1.0)
    assert calibration.shown(0.9, familiar=True) == 0.9
    assert calibration.shown(0.9, familiar=False) == pytest.approx(1 / (1 + np.exp(-(np.log(9) - 1))))
    assert calibration.shown(0.0, familiar=False) == 0.0
    assert Calibration(1.0, 0.0, 0.5, "dev").shown(0.9, familiar=False) == 0.9  # fitted before the offset existed


def test_the_unseen_offset_and_the_documents_trained_on_save_and_load(tmp_path):
    calibration = Calibration(2.0, -1.0, 0.4, "dev", 0.3, "abc", -0.9, "lc", ("0123456789abcdef",))
    calibration.save(tmp_path)
    assert load_calibration(tmp_path) == calibration
    (tmp_path / "calibration.json").write_text('{"a": 1, "b": 0, "threshold": 0.5, "fitted_on": "dev", "unseen_offset": NaN}')
    with pytest.raises(AnswerModelError, match="qa calibrate"):
        load_calibration(tmp_path)


def _chunks(doc_id: str, sentences: list[str], per_chunk: int):
    from qa.data import Chunk, Span, Unit

    units, at = [], 0
    for sentence in sentences:
        units.append(Unit(Span(at, at + len(sentence)), sentence))
        at += len(sentence) + 1
    chunks = []
    for i in range(0, len(units), per_chunk):
        # each chunk also repeats the unit before it, as overlapping chunks do
        part = tuple(units[max(0, i - 1): i + per_chunk])
        chunks.append(Chunk(len(chunks), doc_id, doc_id, f"{doc_id}.txt", "T", "P", "S",
                            Span(part[0].span.start, part[-1].span.end), " ".join(u.text for u in part), part))
    return chunks


def test_a_document_s_fingerprint_is_its_text_however_it_is_chunked():
    from qa.answering.calibration import document_fingerprints, familiar_documents

    text = ["Zoledronic acid is given by drip.", "It takes about 15 minutes.", "Your kidneys are checked first."]
    one = document_fingerprints(_chunks("a", text, 1))["a"]
    assert document_fingerprints(_chunks("a", text, 2))["a"] == one
    assert document_fingerprints(_chunks("b", text, 3))["b"] == one  # the text, not the name
    assert document_fingerprints(_chunks("a", text[:2] + ["Your liver is checked first."], 1))["a"] != one
    chunks = _chunks("known", text, 2) + _chunks("new", ["Drink plenty of water."], 1)
    assert familiar_documents(chunks, Calibration(1.0, 0.0, 0.5, "dev", trained_documents=(one,))) == {"known"}


def test_the_assistant_lowers_the_confidence_only_on_documents_no_model_trained_on(fake_assistant):
    from dataclasses import replace

    from qa.answering.calibration import document_fingerprints

    question = "how can i keep my bones strong with exercise"
    before = fake_assistant.ask(question)
    assert not before.abstained and 0.3 < before.confidence < 1.0
    lowered = replace(fake_assistant.calibration, unseen_offset=-1.0)
    unseen = fake_assistant.replace(calibration=lowered).ask(question)
    assert not unseen.abstained and unseen.units == before.units  # the same answer, refused or given alike
    assert unseen.confidence == pytest.approx(lowered.shown(before.confidence, familiar=False))
    known = replace(lowered, trained_documents=tuple(document_fingerprints(fake_assistant.index.chunks).values()))
    assert fake_assistant.replace(calibration=known).ask(question).confidence == before.confidence


def test_qa_calibrate_records_the_documents_trained_on_and_fits_the_offset_on_other_documents(fake_assistant):
    from qa.answering.calibration import document_fingerprints
    from qa.training.calibrate import with_unseen_offset

    trained = [{"question": "how often should i walk", "history": [], "answerable": True, "answers": ["Walking every day"]}]
    # Questions whose gold spans no answer holds: on these documents the confidence was too high.
    unseen = [{"question": q, "history": [], "answerable": True, "answers": ["a sentence the documents lack"]}
              for q in ("how can i keep my bones strong with exercise", "what is bone health", "how often should i walk")]
    fitted = with_unseen_offset(fake_assistant.calibration, fake_assistant, trained, fake_assistant, unseen, "fakes")
    walking = next(c.doc_id for c in fake_assistant.index.chunks if "Walking every day" in c.text)
    assert fitted.trained_documents == (document_fingerprints(fake_assistant.index.chunks)[walking],)
    assert fitted.unseen_offset == -10.0 and "fakes" in fitted.unseen_fitted_on
    assert (fitted.a, fitted.b, fitted.threshold) == (fake_assistant.calibration.a, fake_assistant.calibration.b, fake_assistant.calibration.threshold)



def test_the_reader_blend_saves_loads_and_defaults_to_the_hand_chosen_share(tmp_path):
    from qa.answering.calibration import READER_BLEND

    Calibration(2.0, -1.0, 0.4, "dev", reader_blend=5.0).save(tmp_path)
    assert load_calibration(tmp_path).reader_blend == 5.0
    # A calibration fitted before `qa calibrate` chose the blend: the share chosen by hand then.
    (tmp_path / "calibration.json").write_text('{"a": 1, "b": 0, "threshold": 0.5, "fitted_on": "dev"}')
    assert load_calibration(tmp_path).reader_blend == READER_BLEND
    (tmp_path / "calibration.json").write_text('{"a": 1, "b": 0, "threshold": 0.5, "fitted_on": "dev", "reader_blend": -2}')
    with pytest.raises(AnswerModelError, match="reader_blend.*qa calibrate"):
        load_calibration(tmp_path)


def test_the_assistant_blends_with_the_calibrated_share_unless_one_is_set(fake_assistant):
    from dataclasses import replace

    fitted = replace(fake_assistant.calibration, reader_blend=6.0)
    unset = fake_assistant.replace(settings=fake_assistant.settings.with_(reader_blend=None), calibration=fitted)
    assert unset.settings.reader_blend == 6.0
    chosen = fake_assistant.replace(settings=fake_assistant.settings.with_(reader_blend=1.5), calibration=fitted)
    assert chosen.settings.reader_blend == 1.5


def test_choose_blend_takes_the_share_that_ranks_best_and_a_tie_goes_to_the_hand_chosen_one(fake_assistant, monkeypatch):
    from qa.training import calibrate as module

    # What each share would get right: ranked_right itself runs the pipeline (below).
    right = {1.0: 7, 4.0: 9, 5.0: 9}
    monkeypatch.setattr(module, "ranked_right", lambda a, items: right.get(a.settings.reader_blend, 8))
    assert module.choose_blend([(fake_assistant, [])], log=lambda _: None) == 4.0  # of 4 and 5, the nearer to 3
    right.clear()
    assert module.choose_blend([(fake_assistant, [])], log=lambda _: None) == module.READER_BLEND


def test_ranked_right_counts_answers_and_first_units_that_hold_a_gold_span(fake_assistant):
    from qa.training.calibrate import ranked_right

    def item(question, answers):
        return {"id": question, "question": question, "history": [], "answerable": bool(answers), "answers": answers}

    zometa = item("what are the side effects of zometa?", ["headache"])
    missing = item("what is bone health", ["a sentence the documents lack"])
    assert ranked_right(fake_assistant, [zometa]) == 1 + ("headache" in fake_assistant.ask(zometa["question"]).units[0].text)
    assert ranked_right(fake_assistant, [missing, item("can I eat grapefruit on holiday?", [])]) == 0


def test_qa_calibrate_chooses_the_blend_for_its_reader_and_fits_the_confidence_with_it(fake_assistant, monkeypatch):
    from conftest import FakeReader
    from qa.training import calibrate as module

    dev = [{"id": q, "question": q, "history": [], "answerable": bool(a), "answers": a} for q, a in (
        ("what are the side effects of zometa?", ["headache"]),
        ("what causes extreme thirst?", ["High calcium in the blood can cause extreme thirst"]),
        ("how much does zometa cost?", ["fever and chills"]),
        ("can I eat grapefruit on holiday?", []),
    )]
    read = fake_assistant.replace(reader=FakeReader())
    # Only the share 5 ranks well here, on dev and the leaflets (the same fake documents) alike.
    seen = []
    monkeypatch.setattr(module, "ranked_right", lambda a, items: seen.append(len(items)) or int(a.settings.reader_blend == 5.0))
    fitted = module.fit_calibration(read, dev, dev, read, dev[:2], leaflets_named="fakes")
    assert fitted.reader_blend == 5.0 and fitted.reader_sha256 == "fake-reader" and "fakes" in fitted.unseen_fitted_on
    assert seen[:2] == [4, 2]  # each share tried on dev and on the leaflets' questions
    # A share set by hand is kept; without a reader there is nothing to blend.
    assert module.fit_calibration(read, dev, dev, choose=False).reader_blend == read.settings.reader_blend
    assert module.fit_calibration(fake_assistant, dev, dev).reader_blend == fake_assistant.settings.reader_blend

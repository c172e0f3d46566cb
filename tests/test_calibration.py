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

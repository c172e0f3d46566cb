import json

import numpy as np
import pytest

import qa.answering.answer as answer_module
from qa.answering.answer import (
    ANSWER_FEATURES,
    LearnedAnswerModel,
    Network,
    Pick,
    cosine_only_model,
    load_answer_model,
    select,
)
from qa.answering.features import (
    QUESTION_FEATURES,
    UNIT_FEATURES,
    Candidate,
    Question,
    defines,
    in_context,
)
from qa.errors import AnswerModelError


def _model(extra_unit_min=0.5):
    unit = tuple(8.0 if name == "cosine in context" else 0.0 for name in UNIT_FEATURES)
    answer = tuple(1.0 if name == "best unit" else 0.0 for name in ANSWER_FEATURES)
    return LearnedAnswerModel(unit, -4.0, Network.linear(answer, 0.0), extra_unit_min)


def _candidates(fake_assistant, cosines):
    chunk = next(c for c in fake_assistant.index.chunks if len(c.units) >= len(cosines))
    ids = fake_assistant.index.unit_ids[chunk.id]
    rest = (0.0,) * (len(UNIT_FEATURES) - 1)
    return [Candidate(unit, chunk, uid, (cos, *rest)) for unit, uid, cos in zip(chunk.units, ids, cosines)]


QUESTION = Question("q", "q", tuple(0.1 if name == "question length" else 0.0 for name in QUESTION_FEATURES))


def test_the_best_unit_is_picked_and_weak_ones_are_left_out(fake_assistant):
    candidates = _candidates(fake_assistant, [0.2, 0.9])
    picks, raw = _model(extra_unit_min=0.9).choose(QUESTION, candidates, max_units=3)
    assert [p.uid for p in picks] == [candidates[1].uid]
    assert raw == pytest.approx(8 * 0.9 - 4)  # the answer model reads the best unit's logit


def test_the_best_unit_comes_first_and_likely_extra_units_follow(fake_assistant):
    candidates = _candidates(fake_assistant, [0.8, 0.9])
    picks, _ = _model(extra_unit_min=0.5).choose(QUESTION, candidates, max_units=3)
    assert [p.uid for p in picks] == [candidates[1].uid, candidates[0].uid]  # the better one first, though later in the text


def test_no_candidates_means_no_picks_and_a_low_score():
    picks, raw = _model().choose(QUESTION, [], max_units=3)
    assert picks == [] and raw < -5


def test_max_units_is_respected(fake_assistant):
    candidates = _candidates(fake_assistant, [0.9, 0.9, 0.9])
    ranked = [Pick(c.unit, c.chunk, 0.99, c.uid) for c in candidates]
    assert len(select(ranked, 0.1, max_units=1)) == 1


def test_weights_must_match_the_features():
    with pytest.raises(ValueError, match="UNIT_FEATURES"):
        LearnedAnswerModel((1.0,), 0.0, Network.linear((0.0,) * len(ANSWER_FEATURES), 0.0), 0.5)


def test_a_saved_model_loads_back(tmp_path):
    model = cosine_only_model()
    model.save(tmp_path)
    assert load_answer_model(tmp_path) == model


def test_a_missing_or_stale_model_file_names_the_fix(tmp_path):
    with pytest.raises(AnswerModelError, match="qa train"):
        load_answer_model(tmp_path)
    cosine_only_model().save(tmp_path)
    data = json.loads((tmp_path / "policy.json").read_text())
    data["unit_features"] = data["unit_features"][:-1]
    (tmp_path / "policy.json").write_text(json.dumps(data))
    with pytest.raises(AnswerModelError, match="other features"):
        load_answer_model(tmp_path)
    (tmp_path / "policy.json").write_text("{not json")
    with pytest.raises(AnswerModelError, match="not JSON"):
        load_answer_model(tmp_path)


def test_a_unit_is_read_with_the_unit_before_it_in_its_passage(fake_assistant):
    index = fake_assistant.index
    vectors = in_context(index, weight=0.5)
    assert vectors.shape == index.unit_vectors.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    ids = next(ids for ids in index.unit_ids if len(ids) > 1)
    first, second = ids[0], ids[1]
    blended = index.unit_vectors[second] + 0.5 * index.unit_vectors[first]
    assert np.allclose(vectors[second], blended / np.linalg.norm(blended), atol=1e-5)


def test_a_unit_that_opens_its_section_keeps_its_own_vector(fake_assistant):
    index = fake_assistant.index
    vectors = in_context(index)
    later = {uid for ids in index.unit_ids for uid in ids[1:]}
    openers = [ids[0] for ids in index.unit_ids if ids[0] not in later]
    assert openers
    for uid in openers:
        assert np.allclose(vectors[uid], index.unit_vectors[uid], atol=1e-6)


def test_a_definition_opens_with_the_term_or_names_it():
    assert defines("Vertebroplasty. In this outpatient procedure, bone cement is injected.", "vertebroplasty")
    assert defines("Hypercalcemia is too much calcium in the blood.", "hypercalcemia")
    assert defines("Your doctor may suggest a bone density test—called a DEXA scan.", "dexa scan")
    assert not defines("If this occurs, vertebroplasty may be used to support them.", "vertebroplasty")
    assert not defines("The DEXA scan test gives your bone density as a score.", "dexa scan")


def test_a_network_standardises_then_applies_its_layers():
    net = Network((1.0, 0.0), (2.0, 1.0), ((((1.0, -1.0), (0.0, 2.0)), (0.0, 0.5)), (((1.0,), (3.0,)), (-1.0,))))
    # (2, 1) standardises to (0.5, 1.0)
    hidden = np.maximum(np.array([0.5, 1.0]) @ np.array([[1.0, -1.0], [0.0, 2.0]]) + np.array([0.0, 0.5]), 0.0)
    assert net.logit((2.0, 1.0)) == pytest.approx(float(hidden @ np.array([1.0, 3.0]) - 1.0))
    assert Network.linear((2.0, -1.0), 0.5).logit((1.0, 1.0)) == pytest.approx(1.5)


def test_a_network_whose_layers_do_not_fit_is_refused():
    with pytest.raises(ValueError, match="inputs x outputs"):
        Network((0.0, 0.0), (1.0, 1.0), ((((1.0,),), (0.0,)),))
    with pytest.raises(ValueError, match="one logit"):
        Network((0.0,), (1.0,), ((((1.0, 1.0),), (0.0, 0.0)),))


def test_a_model_with_a_network_saves_and_loads_back(tmp_path):
    hidden = tuple(tuple(float(i == j) for j in range(2)) for i in range(len(ANSWER_FEATURES)))
    net = Network((0.0,) * len(ANSWER_FEATURES), (1.0,) * len(ANSWER_FEATURES), ((hidden, (0.0, 0.1)), (((1.0,), (-1.0,)), (0.2,))))
    model = LearnedAnswerModel(cosine_only_model().unit_weights, -5.0, net, 0.4)
    model.save(tmp_path)
    assert load_answer_model(tmp_path) == model


def test_words_the_sources_lack_are_counted_in_the_resolved_query():
    from qa.answering.features import QUESTION_FEATURES, describe
    from qa.language.terms import Vocabulary

    vocabulary = Vocabulary.from_texts(["Spinal cord compression is an emergency."])
    share = QUESTION_FEATURES.index("unknown share")
    alone = describe("why the rush", "why the rush", vocabulary)
    followup = describe("why the rush", "why the rush spinal cord compression", vocabulary)
    assert alone.features[share] == 1.0
    assert 0.0 < followup.features[share] < 1.0


def test_a_changed_reading_constant_refuses_the_trained_weights(tmp_path, monkeypatch):
    # The weights were fitted on features read one way: read another way, they would mislead silently.
    from conftest import write_fake_answer_model

    import qa.answering.answer as answer
    from qa.errors import AnswerModelError

    folder = write_fake_answer_model(tmp_path / "model")
    assert answer.load_answer_model(folder) is not None
    monkeypatch.setattr(answer, "CONTEXT_WEIGHT", 0.4)
    with pytest.raises(AnswerModelError, match="context_weight 0.4 here, 0.5 in the file"):
        answer.load_answer_model(folder)


def test_a_lead_in_without_its_list_is_never_an_answer_unit(fake_assistant):
    from dataclasses import replace

    candidates = _candidates(fake_assistant, [0.95, 0.9])
    lead_in = replace(candidates[0], unit=replace(candidates[0].unit, text="Often given by IV, they include:"))
    picks, _ = _model(extra_unit_min=0.0).choose(QUESTION, [lead_in, candidates[1]], max_units=3)
    assert [p.uid for p in picks] == [candidates[1].uid]


@pytest.mark.parametrize("damage", ["calibration a", "calibration threshold", "policy weight", "policy bias", "answer network", "memory row"])
def test_a_nan_anywhere_in_the_fitted_numbers_refuses_the_model(tmp_path, damage):
    # One NaN passes every comparison: unchecked, it answered anything at confidence 1.0.
    import json

    import numpy as np
    from conftest import write_fake_answer_model

    from qa.answering.calibration import load_calibration
    from qa.answering.memory import Memory, load_memory
    from qa.errors import AnswerModelError

    folder = write_fake_answer_model(tmp_path / "model")
    Memory(np.ones((2, 4), dtype=np.float32), np.array([True, False]), (("a",), ()), "fp").save(folder)
    policy, calibration = json.loads((folder / "policy.json").read_text()), json.loads((folder / "calibration.json").read_text())
    if damage == "calibration a":
        calibration["a"] = float("nan")
    elif damage == "calibration threshold":
        calibration["threshold"] = float("inf")
    elif damage == "policy weight":
        policy["unit_weights"][0] = float("nan")
    elif damage == "policy bias":
        policy["unit_bias"] = float("-inf")
    elif damage == "answer network":
        policy["answer"]["layers"][0]["bias"][0] = float("nan")
    else:
        vectors = np.load(folder / "memory.npy")
        vectors[1, 2] = np.nan
        np.save(folder / "memory.npy", vectors)
    (folder / "policy.json").write_text(json.dumps(policy))
    (folder / "calibration.json").write_text(json.dumps(calibration))
    loader = {"calibration": load_calibration, "memory": load_memory}.get(damage.split()[0], answer_module.load_answer_model)
    with pytest.raises(AnswerModelError, match="not finite"):
        loader(folder)


def _chunk(text: str, offset: int = 40):
    from qa.data import Chunk, Span, Unit

    units, start = [], 0
    for sentence in text.split("  "):
        begin = text.index(sentence, start)
        units.append(Unit(Span(offset + begin, offset + begin + len(sentence)), sentence))
        start = begin + len(sentence)
    return Chunk(0, "d", "a", "f.txt", "T", "P", "S", Span(offset, offset + len(text)), text, tuple(units))


def test_a_unit_that_points_back_is_quoted_as_one_passage_with_the_sentence_before():
    from qa.answering.answer import with_lead

    chunk = _chunk("Bone pain can be sharp.  Thirst and confusion can come.  These symptoms may be due to calcium.")
    pick = with_lead(Pick(chunk.units[2], chunk, 0.9, 7))
    assert pick.unit.text == "Thirst and confusion can come.  These symptoms may be due to calcium."
    assert chunk.text[pick.unit.span.start - 40 : pick.unit.span.end - 40] == pick.unit.text  # verbatim
    assert (pick.uid, pick.score) == (7, 0.9)
    alone = Pick(chunk.units[1], chunk, 0.9, 6)
    assert with_lead(alone) == alone  # "Thirst ..." stands on its own


def test_the_passage_is_picked_once_and_first(fake_assistant):
    chunk = _chunk("Bone pain can be sharp.  Thirst and confusion can come.  These symptoms may be due to calcium.")
    ranked = [Pick(chunk.units[2], chunk, 0.9, 7), Pick(chunk.units[1], chunk, 0.8, 6), Pick(chunk.units[0], chunk, 0.7, 5)]
    picks = select(ranked, 0.5, 3)
    assert [p.unit.text for p in picks] == [
        "Thirst and confusion can come.  These symptoms may be due to calcium.",  # not "Thirst..." again
        "Bone pain can be sharp.",
    ]


def test_a_hyphenated_drug_name_names_its_family():
    from qa.answering.entities import names

    assert names("he's been offered radium-223") == {"radionuclide"}
    assert names("zoledronic acid") == {"bisphosphonate"}


def test_how_a_sentence_points_back_is_read_from_its_first_word():
    from qa.answering.entities import opening

    assert opening("These tests are painless.") == "lead"
    assert opening("• It\u2019s more expensive than bisphosphonates.") == "pronoun"
    assert opening("Italy is far.") == "" and opening("") == ""
    # A few words that point back as "These" does; "All" alone does not.
    assert opening("All can indicate a spinal cord compression.") == "lead"
    assert opening("Any of these can be a sign.") == "lead"
    assert opening("All patients are offered a scan.") == ""


def test_it_after_a_sentence_naming_a_complication_is_quoted_with_that_sentence():
    """"It can make you feel very tired" speaks of high calcium: alone, it read as the
    tiredness a question about radiotherapy asked of."""
    from qa.answering.answer import with_lead

    chunk = _chunk("The high calcium also causes you to make more urine.  It can make you feel very tired.  "
                   "Bone pain is often the first sign.  It may come and go at first.")
    led = with_lead(Pick(chunk.units[1], chunk, 0.9, 7))
    assert led.unit.text == "The high calcium also causes you to make more urine.  It can make you feel very tired."
    plain = Pick(chunk.units[3], chunk, 0.9, 8)
    assert with_lead(plain) == plain  # "It" is the question's own subject, bone pain


def test_side_effects_naming_no_treatment_are_quoted_with_the_sentence_naming_it():
    """"The most common side effects are shortness of breath..." speaks of Xgeva, named
    the sentence before: quoted alone beside Zometa's list, nobody could tell whose it was."""
    from qa.answering.answer import with_lead

    chunk = _chunk("Xgeva is given as an injection under the skin.  The most common side effects are tiredness and rash.  "
                   "Chemotherapy can affect the ovaries.  Boys may be offered tissue freezing.")
    led = with_lead(Pick(chunk.units[1], chunk, 0.9, 7))
    assert led.unit.text == "Xgeva is given as an injection under the skin.  The most common side effects are tiredness and rash."
    plain = Pick(chunk.units[3], chunk, 0.9, 8)
    assert with_lead(plain) == plain  # it says what it speaks of, whatever the sentence before names

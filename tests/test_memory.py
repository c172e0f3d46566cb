import json

import numpy as np
import pytest

from qa.answering.features import UNIT_FEATURES, Reader
from qa.answering.memory import Memory, load_memory
from qa.errors import AnswerModelError
from qa.training.trainset import build_memory

REMEMBERED = UNIT_FEATURES.index("remembered")
NEAREST = UNIT_FEATURES.index("nearest remembered")

ITEMS = [
    {"question": "what does a bisphosphonate do to bone", "history": [], "answerable": True,
     "answers": ["Bisphosphonates are drugs that slow the breakdown of bone"]},
    {"question": "how do i bake banana bread", "history": [], "answerable": False, "answers": []},
]


def _features(assistant, memory, question):
    reader = Reader(assistant.index, memory)
    vector = assistant.embedder.encode_query(question)
    passages = assistant.retriever.search(question, vector, 4)
    nearest = reader.memory.nearest(reader.memory.similarities(vector))
    return {c.unit.text: c.features for c in reader.candidates(question, passages, vector)}, nearest


def test_a_question_near_a_remembered_one_lifts_the_units_that_answered_it(fake_assistant):
    memory = build_memory(fake_assistant, ITEMS)
    features, _ = _features(fake_assistant, memory, "what do bisphosphonates do to the bone")
    gold = next(text for text in features if text.startswith("Bisphosphonates are drugs"))
    assert features[gold][REMEMBERED] > 0.5 and features[gold][NEAREST] == 1.0
    others = [f for text, f in features.items() if text != gold]
    assert others and all(f[REMEMBERED] == 0.0 and f[NEAREST] == 0.0 for f in others)


def test_nearest_gives_the_closest_answerable_and_unanswerable_question(fake_assistant):
    memory = build_memory(fake_assistant, ITEMS)
    _, (answerable, unanswerable) = _features(fake_assistant, memory, "banana bread recipe to bake")
    assert unanswerable > answerable
    assert 0.0 < unanswerable <= 1.0


def test_another_models_memory_is_not_used(fake_assistant):
    memory = build_memory(fake_assistant, ITEMS)
    stranger = Memory(memory.vectors, memory.answerable, memory.units, "another model")
    features, nearest = _features(fake_assistant, stranger, "what do bisphosphonates do to the bone")
    assert all(f[REMEMBERED] == 0.0 for f in features.values())
    assert nearest == (0.0, 0.0)


def test_a_saved_memory_loads_back(tmp_path, fake_assistant):
    memory = build_memory(fake_assistant, ITEMS)
    memory.save(tmp_path)
    loaded = load_memory(tmp_path)
    assert loaded.model == memory.model and loaded.units == memory.units
    assert loaded.answerable.tolist() == [True, False]
    assert np.allclose(loaded.vectors, memory.vectors, atol=1e-3)  # stored as float16


def test_no_memory_files_means_an_empty_memory(tmp_path):
    memory = load_memory(tmp_path)
    assert len(memory) == 0
    assert memory.nearest(memory.similarities(np.ones(384, dtype=np.float32))) == (0.0, 0.0)


def test_a_damaged_memory_names_the_folder_and_the_fix(tmp_path, fake_assistant):
    build_memory(fake_assistant, ITEMS).save(tmp_path)
    (tmp_path / "memory.json").write_text(json.dumps({"questions": []}), encoding="utf-8")
    with pytest.raises(AnswerModelError, match="retrain with `qa train`") as error:
        load_memory(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_a_memory_needs_one_vector_per_question():
    with pytest.raises(ValueError, match="one vector"):
        Memory(np.zeros((2, 4), dtype=np.float32), np.array([True]), ((),), "m")


def test_the_product_reads_no_question_memory_unless_the_settings_turn_it_on(tiny_settings, tmp_path):
    """Leave-one-document-out showed the memory costs answers on a document it
    never saw: it is off unless Settings.question_memory."""
    from qa.answering.assistant import Assistant
    from conftest import FakeEmbedder

    folder = tiny_settings.answer_model()
    plain = Assistant.load(tiny_settings, embedder=FakeEmbedder(), calibrated=False)
    build_memory(plain, ITEMS).save(folder)
    assert len(Assistant.load(tiny_settings, embedder=FakeEmbedder(), calibrated=False).reader.memory) == 0
    on = Assistant.load(tiny_settings.with_(question_memory=True), embedder=FakeEmbedder(), calibrated=False)
    assert len(on.reader.memory) == len(ITEMS)

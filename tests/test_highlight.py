"""Span highlighting with a tiny, randomly initialised QA model built here
from a config: no download, just the code path of a real model."""

import pytest

from qa.answering.highlight import Highlighter
from qa.data import Span
from qa.errors import ModelNotFoundError


@pytest.fixture(scope="module")
def tiny_qa_model(tmp_path_factory):
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from qa.index.embed import bundled_model_path

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    path = tmp_path_factory.mktemp("tiny-qa")
    BertForQuestionAnswering(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_highlight_returns_a_span_inside_the_text(tiny_qa_model):
    text = "Denosumab is injected under the skin and helps prevent bone breakdown."
    span = Highlighter(tiny_qa_model).highlight("how is denosumab given?", text)
    assert isinstance(span, Span)
    assert 0 <= span.start < span.end <= len(text)
    assert text[span.start : span.end].strip()


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="highlight_model_path"):
        Highlighter(tmp_path / "none").highlight("q?", "text")


def test_assistant_highlights_units_when_a_reader_model_is_set(tiny_settings, tiny_qa_model):
    from conftest import FakeEmbedder

    from qa.answering.assistant import Assistant

    assistant = Assistant.load(tiny_settings.with_(highlight_model_path=tiny_qa_model), embedder=FakeEmbedder())
    answer = assistant.ask("what are the side effects of zometa?")
    assert answer.units
    for unit in answer.units:
        assert unit.highlight is not None
        assert 0 <= unit.highlight.start < unit.highlight.end <= len(unit.text)

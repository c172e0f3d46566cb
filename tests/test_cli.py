import json

import pytest
from conftest import FakeEmbedder

import qa.index.embed
from qa.apps.cli import main


@pytest.fixture
def cli(tiny_settings, monkeypatch):
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setenv("QA_ANSWER_MODEL", str(tiny_settings.answer_model_path))  # the fakes, never the shipped weights
    monkeypatch.setenv("QA_READER", "off")
    base = ["--corpus", str(tiny_settings.corpus_dir), "--index", str(tiny_settings.index_dir)]

    def run(command, *args):
        return main([command, *base, *args])

    return run


def test_index_builds_then_reports_up_to_date(cli, capsys):
    assert cli("index") == 0
    assert "built" in capsys.readouterr().out
    assert cli("index") == 0
    assert "up to date" in capsys.readouterr().out


def test_ask_prints_a_cited_answer_and_json(cli, capsys):
    assert cli("ask", "what are the side effects of zometa?") == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "Sources:" in out and "not medical advice" in out
    assert cli("ask", "what are its side effects?", "--history", "what is zometa?", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert "headache" in record["answer"] and record["abstained"] is False


def test_abstention_lists_questions_the_sources_answer(cli, capsys):
    assert cli("ask", "how do I renew my passport?") == 0
    out = capsys.readouterr().out
    assert "don't cover" in out and "Questions the sources do answer:" in out


def test_batch_mode_writes_one_record_per_line(cli, tmp_path):
    batch = tmp_path / "in.jsonl"
    batch.write_text(
        '{"id": "a", "question": "what is zometa?", "history": []}\n'
        '{"id": "b", "question": "what are its side effects?", "history": ["what is zometa?"]}\n'
        '{"id": "c", "question": "how do I renew my passport?"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert cli("ask", "--batch", str(batch), "--out", str(out)) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "b", "c"]
    assert records[2]["abstained"] is True
    for record in records:
        for unit in record["units"]:
            quote = record["citations"][unit["citation"] - 1]["quote"]
            assert unit["text"] in quote


def test_a_bad_batch_line_gets_an_error_record_and_the_rest_are_answered(cli, tmp_path, capsys):
    batch = tmp_path / "in.jsonl"
    batch.write_text('{"id": "a", "question": "what is zometa?"}\n{not json\n{"id": "c", "question": "what is zometa?"}\n', encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert cli("ask", "--batch", str(batch), "--out", str(out)) == 1  # 1: some lines failed
    assert "line 2 is not valid JSON" in capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["line"]) for r in records] == [("a", 1), (None, 2), ("c", 3)]
    assert "not valid JSON" in records[1]["error"] and "Zometa" in records[2]["answer"]


def test_missing_corpus_exits_non_zero_with_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    code = main(["ask", "--corpus", str(tmp_path / "none"), "--index", str(tmp_path / "ix"), "what is zometa?"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_corrupt_index_exits_non_zero_with_the_fix(cli, tiny_settings, capsys):
    assert cli("index") == 0
    (tiny_settings.index_dir / "CURRENT").write_text("nonsense\n")
    assert cli("ask", "what is zometa?") == 2
    assert "index damaged" in capsys.readouterr().err
    assert cli("index") == 0  # `qa index` rebuilds a damaged index
    assert cli("ask", "what is zometa?") == 0


def test_ask_without_a_question_is_a_usage_error(cli, capsys):
    assert cli("ask") == 2
    assert "give a question" in capsys.readouterr().err

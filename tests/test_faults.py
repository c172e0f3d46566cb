"""Fault injection: the careless and hostile inputs of issue 10's probe, each
named for its fault. Every one must end in a clear message or correct
behaviour: no traceback, no silent damage, nothing lost. Fake embedder
throughout (fast); a few tests run a real child process to kill it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, FakeEmbedder

import qa.apps.server
import qa.index.embed
from qa.answering.assistant import Assistant
from qa.apps import batch
from qa.apps.cli import main
from qa.errors import CorpusError, CorruptIndexError, IndexFolderError, OutputError, QAError, StaleIndexError
from qa.index.store import CURRENT, build_index, current_build, load_index, verify_index
from qa.ingest.chunk import MAX_UNIT_CHARS, chunk_corpus, sentences
from qa.ingest.corpus import load_corpus
from qa.language.terms import Vocabulary
from qa.language.text import normalise_text
from qa.settings import Settings

sys.path.insert(0, str(ROOT))
import app  # noqa: E402

GOOD = '{"id": "%s", "question": "what is zometa?"}\n'


@pytest.fixture
def cli(tiny_settings, monkeypatch):
    """`qa` with the fake embedder; `loads` counts how often the assistant was loaded."""
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setenv("QA_ANSWER_MODEL", str(tiny_settings.answer_model_path))  # the fakes, never the shipped weights
    monkeypatch.setenv("QA_READER", "off")
    base = ["--corpus", str(tiny_settings.corpus_dir), "--index", str(tiny_settings.index_dir)]
    loads = []
    real_load = Assistant.load

    def counting_load(*args, **kwargs):
        loads.append(1)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Assistant, "load", counting_load)

    def run(command, *args):
        return main([command, *base, *args])

    run.loads = loads
    return run


def records(path: Path) -> list[dict]:
    """Every line of a JSONL file, parsed strictly (NaN is not JSON)."""
    def refuse(name):
        raise ValueError(f"{name} in the output")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text(encoding="utf-8").splitlines()]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert lines, err
    return lines[0]


# --- 1. --out -----------------------------------------------------------------


def test_out_a_fifo_is_refused_and_stays_a_fifo(cli, tmp_path, capsys):
    # A FIFO stands in for /dev/null: a test must never risk replacing a real device.
    (tmp_path / "b.jsonl").write_text(GOOD % "a")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(fifo)) == 2
    assert "not a regular file" in one_line_error(capsys)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and cli.loads == []


def test_out_equal_to_the_batch_file_is_refused_and_the_questions_kept(cli, tmp_path, capsys):
    batch_file = tmp_path / "b.jsonl"
    batch_file.write_text(GOOD % "a")
    assert cli("ask", "--batch", str(batch_file), "--out", str(batch_file)) == 2
    assert "is the batch file itself" in one_line_error(capsys)
    assert batch_file.read_text() == GOOD % "a"


def test_out_naming_a_folder_is_refused_before_anything_is_answered(cli, tmp_path, capsys):
    (tmp_path / "b.jsonl").write_text(GOOD % "a")
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(tmp_path)) == 2
    assert "is a folder" in one_line_error(capsys)
    assert cli.loads == [] and not list(tmp_path.glob("*.tmp"))


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs Linux /proc")
def test_out_in_proc_is_a_clear_error(cli, tmp_path, capsys):
    (tmp_path / "b.jsonl").write_text(GOOD % "a")
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", "/proc/version") == 2
    assert "cannot write /proc/version.lock" in one_line_error(capsys)
    assert cli.loads == []


def test_eval_predictions_to_a_folder_is_a_clear_error(tmp_path):
    from qa.errors import OutputError
    from qa.files import write_jsonl

    with pytest.raises(OutputError, match="not a regular file"):
        write_jsonl(tmp_path, [{"a": 1}])


# --- 2. lone surrogates, invalid bytes, zero-width characters -------------------


def test_lone_surrogate_in_one_batch_line_loses_no_answer(cli, tmp_path, capsys):
    lines = [GOOD % f"q{i}" for i in range(20)]
    lines.insert(7, '{"id": "bad", "question": "what is \\ud800 zometa?", "history": ["\\udcff hi"]}\n')
    (tmp_path / "b.jsonl").write_text("".join(lines))
    out = tmp_path / "o.jsonl"
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(out)) == 0
    got = records(out)
    assert len(got) == 21 and all("error" not in r for r in got)
    assert got[7]["question"] == "what is \ufffd zometa?" and "Zometa" in got[7]["answer"]


def test_invalid_utf8_bytes_in_a_batch_file_are_replaced(cli, tmp_path):
    (tmp_path / "b.jsonl").write_bytes(b'{"id": "x", "question": "what is \xff zometa?"}\n')
    out = tmp_path / "o.jsonl"
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(out)) == 0
    assert records(out)[0]["question"] == "what is \ufffd zometa?"


def test_invalid_utf8_byte_on_stdin_of_the_chat_is_answered(cli, monkeypatch, capsys):
    stdin = io.TextIOWrapper(io.BytesIO(b"what is \xff zometa?\n"), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli("chat") == 0
    out = capsys.readouterr()
    assert "Zometa is a bisphosphonate" in out.out and "Traceback" not in out.err


def test_surrogate_escaped_byte_in_argv_is_answered(cli, capsys):
    # What Python makes of `qa ask $'what is \xff zometa?'`.
    assert cli("ask", "what is \udcff zometa?", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["question"] == "what is \ufffd zometa?" and "Zometa" in record["answer"]


def test_zero_width_spaces_inside_words_are_removed(fake_assistant):
    plain = fake_assistant.ask("what is zometa?")
    hidden = fake_assistant.ask("what is zo\u200bme\u200dta\ufeff?")
    assert hidden.text == plain.text and not hidden.abstained


def test_normalise_text_joins_valid_surrogate_pairs_and_folds_compatibility_forms():
    assert normalise_text("\ud83d\ude00 ＸＧＥＶＡ ﬁx e\u0301") == "\U0001f600 XGEVA fix \u00e9"
    with pytest.raises(ValueError, match="must be a string"):
        normalise_text(5)


def test_surrogates_in_the_app_message_or_history_are_answered(fake_assistant, tmp_path):
    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    reply = h.chat_api("what is \ud800 zometa?", ["\udcff what is zometa?"])
    assert "Zometa is a bisphosphonate" in reply and "Sorry" not in reply
    # As the page sends it: JSON, where a lone surrogate is an escape ("\\udcff").
    payload = json.dumps({"id": "s-1", "text": "what are its side effects \udcff?"})
    chat, _, _, _, done = h.respond(payload, [], ["what is zometa?"], [])
    assert "headache" in chat[1]["content"] and "\udcff" not in chat[0]["content"] and done == "s-1"


# --- 3. batch lines -----------------------------------------------------------


def test_deeply_nested_json_line_is_an_error_record(cli, tmp_path, capsys):
    (tmp_path / "b.jsonl").write_text(GOOD % "a" + "[" * 100_000 + "]" * 100_000 + "\n" + GOOD % "c")
    out = tmp_path / "o.jsonl"
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(out)) == 1
    got = records(out)
    assert [r.get("error", "ok")[:30] for r in got] == ["ok", "line 2 is nested too deeply to", "ok"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": NaN, "question": "what is zometa?"}', "NaN is not valid JSON"),
        ('{"id": Infinity, "question": "q"}', "Infinity is not valid JSON"),
        ('{"id": 1.5, "question": "q"}', '"id" must be a string or a whole number'),
        ('{"id": true, "question": "q"}', '"id" must be a string or a whole number'),
        ('["what is zometa?"]', "must be a JSON object"),
        ('{"id": "x"}', '"question" must be a string, got nothing'),
        ('{"id": "x", "question": 5}', '"question" must be a string, got int'),
        ('{"id": "x", "question": "q", "history": "what is zometa?"}', '"history" must be a list'),
        ('{"id": "x", "question": "q", "history": [1]}', '"history" must be a list'),
    ],
)
def test_bad_batch_values_are_error_records_in_valid_json(cli, tmp_path, line, message):
    (tmp_path / "b.jsonl").write_text(line + "\n" + GOOD % "ok")
    out = tmp_path / "o.jsonl"
    assert cli("ask", "--batch", str(tmp_path / "b.jsonl"), "--out", str(out)) == 1
    bad, good = records(out)  # strict parse: no NaN written back
    assert message in bad["error"] and bad["line"] == 1
    assert good["id"] == "ok" and "Zometa" in good["answer"]


def test_missing_or_folder_batch_file_is_a_clear_error(cli, tmp_path, capsys):
    assert cli("ask", "--batch", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o.jsonl")) == 2
    assert "cannot read the batch file" in one_line_error(capsys)
    assert cli("ask", "--batch", str(tmp_path), "--out", str(tmp_path / "o.jsonl")) == 2
    assert "is a folder" in one_line_error(capsys)


# --- 13. streaming, resume, progress ----------------------------------------------


def _slow_batch(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "b.jsonl"
    path.write_text("".join(GOOD % f"q{i}" for i in range(n)))
    return path


def test_an_interrupted_batch_keeps_its_answers_and_resume_finishes(tmp_path, capsys):
    batch_file, out = _slow_batch(tmp_path, 10), tmp_path / "o.jsonl"
    asked = []

    def interrupt_at(n):
        def ask(question, history):
            if len(asked) == n:
                raise KeyboardInterrupt
            asked.append(question)
            return {"answer": "a"}

        return lambda: ask

    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(batch_file, out, interrupt_at(4))
    partial = batch.partial_path(out)
    assert not out.exists() and [r["id"] for r in records(partial)] == ["q0", "q1", "q2", "q3"]
    assert "--resume" in capsys.readouterr().err
    with pytest.raises(Exception, match="add --resume"):  # a new run does not throw them away
        batch.run_batch(batch_file, out, interrupt_at(99))
    asked.clear()
    assert batch.run_batch(batch_file, out, interrupt_at(99), resume=True) == 0
    assert len(asked) == 6 and not partial.exists()
    assert [r["id"] for r in records(out)] == [f"q{i}" for i in range(10)]


def test_resume_keeps_input_order_with_failed_lines_redone(tmp_path):
    """A line that failed in the first run is asked again on --resume and its
    answer sits in its own place, not after the kept answers."""
    batch_file, out = _slow_batch(tmp_path, 6), tmp_path / "o.jsonl"

    asked = []

    def first():
        def ask(question, history):
            asked.append(question)
            if len(asked) == 2:
                raise QAError("the model was busy")
            if len(asked) == 5:
                raise KeyboardInterrupt
            return {"answer": question}
        return ask

    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(batch_file, out, first)
    assert batch.run_batch(batch_file, out, lambda: lambda q, h: {"answer": q}, resume=True) == 0
    assert [(r["id"], "error" in r) for r in records(out)] == [(f"q{i}", False) for i in range(6)]


def test_two_runs_on_one_output_the_second_is_refused(tmp_path):
    batch_file, out = _slow_batch(tmp_path, 5), tmp_path / "o.jsonl"
    started, release = threading.Event(), threading.Event()

    def slow():
        def ask(question, history):
            started.set()
            release.wait(10)
            return {"answer": question}
        return ask

    first = threading.Thread(target=batch.run_batch, args=(batch_file, out, slow))
    first.start()
    try:
        assert started.wait(10)
        with pytest.raises(OutputError, match="another `qa ask --batch` is writing"):
            batch.run_batch(batch_file, out, lambda: lambda q, h: {"answer": q}, resume=True)
    finally:
        release.set()
        first.join()
    assert [r["id"] for r in records(out)] == [f"q{i}" for i in range(5)]


def test_resume_after_kill_9_of_a_real_batch_run(tiny_settings, tmp_path):
    """A child process answering slowly is killed mid-run; its partial file is
    valid JSONL up to a torn last line at most, and --resume completes it."""
    batch_file, out = _slow_batch(tmp_path, 60), tmp_path / "o.jsonl"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        import qa.index.embed, conftest
        from qa.answering.assistant import Assistant
        qa.index.embed.Embedder = lambda *a, **k: conftest.FakeEmbedder()
        ask = Assistant.ask
        Assistant.ask = lambda self, q, h=(): (time.sleep(0.05), ask(self, q, h))[1]
        from qa.apps.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    args = ["ask", "--corpus", str(tiny_settings.corpus_dir), "--index", str(tiny_settings.index_dir),
            "--batch", str(batch_file), "--out", str(out)]
    env = dict(os.environ, QA_ANSWER_MODEL=str(tiny_settings.answer_model_path), QA_READER="off")  # the fakes, never the shipped weights
    child = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stderr=subprocess.PIPE, env=env)
    partial = batch.partial_path(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not partial.exists() or partial.read_text().count("\n") < 5):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    kept = batch.answered_records(partial)
    assert 5 <= len(kept) < 60 and not out.exists()
    done = subprocess.run([sys.executable, "-c", script, *args, "--resume"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(r["id"] for r in records(out)) == sorted(f"q{i}" for i in range(60))


def test_progress_lines_reach_a_non_terminal_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "PROGRESS_EVERY_S", 0.0)
    stderr = io.StringIO()  # not a terminal
    batch.run_batch(_slow_batch(tmp_path, 3), tmp_path / "o.jsonl", lambda: lambda q, h: {"answer": "a"}, stderr=stderr)
    assert "3 of 3 lines done" in stderr.getvalue()


def test_each_answer_is_on_disk_before_the_next_is_asked(tmp_path):
    out = tmp_path / "o.jsonl"
    seen = []

    def ask(question, history):
        partial = batch.partial_path(out)
        seen.append(partial.read_text().count("\n"))
        return {"answer": "a"}

    batch.run_batch(_slow_batch(tmp_path, 4), out, lambda: ask)
    assert seen == [0, 1, 2, 3]


def test_an_engine_bug_on_one_question_is_that_lines_error(tmp_path):
    def ask(question, history):
        if question.endswith("3?"):
            raise RuntimeError("engine bug")
        return {"answer": "a", "confidence": 0.5}

    path = tmp_path / "b.jsonl"
    path.write_text("".join('{"id": %d, "question": "q%d?"}\n' % (i, i) for i in range(5)))
    assert batch.run_batch(path, tmp_path / "o.jsonl", lambda: ask) == 1
    got = records(tmp_path / "o.jsonl")
    assert len(got) == 5 and "internal error (RuntimeError: engine bug)" in got[3]["error"]


# --- 4, 5, 6, 14: the corpus ----------------------------------------------------


def test_a_symlink_out_of_the_corpus_is_refused(tmp_path, tiny_corpus):
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nThe password is hunter2.\n")
    (tiny_corpus / "link.txt").symlink_to(secret)
    with pytest.raises(CorpusError, match="link.txt is a link to .*secret.txt, outside the corpus folder"):
        load_corpus(tiny_corpus)


def test_a_symlink_inside_the_corpus_is_fine(tiny_corpus):
    (tiny_corpus / "alias.txt").symlink_to(tiny_corpus / "copy.txt")
    assert "alias" in {d.id for d in load_corpus(tiny_corpus)}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tiny_corpus, monkeypatch):
    with pytest.raises(CorpusError, match=r"basics.txt is 0.0 MB, over the 0.0001 MB limit .*QA_MAX_FILE_MB"):
        load_corpus(tiny_corpus, max_file_mb=0.0001)
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.0001")
    assert Settings.from_env().max_file_mb == 0.0001
    monkeypatch.setenv("QA_MAX_FILE_MB", "lots")
    with pytest.raises(ValueError, match="QA_MAX_FILE_MB must be a number"):
        Settings.from_env()


def test_a_200kb_line_without_punctuation_becomes_short_units(tmp_path):
    text = "Notes\n\n" + " ".join(f"word{i}" for i in range(30_000)) + "\n"
    (tmp_path / "long.txt").write_text(text)
    docs = load_corpus(tmp_path)
    chunks = chunk_corpus(docs, 300, 1)
    units = {u.span: u for c in chunks for u in c.units}
    assert len(units) > 300 and max(len(u.text) for u in units.values()) <= MAX_UNIT_CHARS
    assert all(docs[0].text[s.start : s.end] == u.text for s, u in units.items())
    covered = sum(len(u.text) for u in units.values())
    assert covered >= 0.99 * (len(text) - len("Notes\n\n"))  # nothing dropped but the spaces at the cuts


def test_long_lines_without_punctuation_are_split_at_line_breaks():
    text = "\n".join(f"line {i} has no full stop" for i in range(100))
    spans = sentences(text)
    assert [text[s.start : s.end] for s in spans[:2]] == ["line 0 has no full stop", "line 1 has no full stop"]


def test_a_paragraph_of_many_sentences_keeps_each_sentence(tmp_path):
    para = " ".join(f"Sentence number {i} is here, said Dr. Smith." for i in range(400))  # 18 KB, one paragraph
    spans = sentences(para)
    assert len(spans) == 400 and para[spans[-1].start : spans[-1].end] == "Sentence number 399 is here, said Dr. Smith."


@pytest.mark.parametrize(
    "entry, message",
    [
        ('[[document]]\nfile = "a.txt"\nid = "a"\n[[document.article]]\nid = "x"\n',
         "\\[\\[document\\]\\] 1 \\(file \"a.txt\"\\), \\[\\[document.article\\]\\] 1 needs a 'starts_with'"),
        ('[[document]]\nfile = "a.txt"\nid = 5\n', "key 'id' must be a string \\(in quotes\\), got 5"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\ntitle = ["x"]\n', "key 'title' must be a string"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\npublisher = 3\n', "key 'publisher' must be a string \\(in quotes\\), got 3"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\npublsher = "X"\n', "unknown key 'publsher' \\(known: file, id, title, publisher"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\nreviewed = 2011-09-14\n', "key 'reviewed' must be a string"),
        ('[[document]]\nid = "a"\n', "\\[\\[document\\]\\] 1 needs a 'file'"),
        ('[[document]]\nfile = "a.txt"\nid = "  "\n', "key 'id' must not be empty"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\n[[document]]\nfile = "a.txt"\nid = "b"\n', "two \\[\\[document\\]\\] entries for file 'a.txt'"),
        ('[[document]]\nfile = "a.txt"\nid = "a"\n[[document]]\nfile = "b.txt"\nid = "a"\n', "the id 'a' is used twice"),
        ('document = "a.txt"\n', "key 'document' must be a list of tables"),
    ],
)
def test_metadata_errors_name_the_file_entry_and_key(tmp_path, entry, message):
    (tmp_path / "a.txt").write_text("Intro\n\nText here.\n")
    (tmp_path / "b.txt").write_text("Other\n\nMore text.\n")
    (tmp_path / "metadata.toml").write_text(entry)
    with pytest.raises(CorpusError, match=f"metadata.toml: .*{message}"):
        load_corpus(tmp_path)


def test_two_files_with_one_id_are_refused(tmp_path):
    (tmp_path / "a b.txt").write_text("A\n\nText.\n")
    (tmp_path / "a-b.txt").write_text("B\n\nText.\n")
    with pytest.raises(CorpusError, match="both have the id 'a-b'"):
        load_corpus(tmp_path)


def test_corpus_pointing_at_a_file_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    (tmp_path / "a.txt").write_text("x")
    assert main(["ask", "--corpus", str(tmp_path / "a.txt"), "--index", str(tmp_path / "ix"), "q?"]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)


def test_a_script_line_in_markdown_is_never_a_heading(tmp_path):
    (tmp_path / "n.md").write_text("# Notes\n\n<script>alert(1)</script>\n\nCalcium keeps bones strong.\n\n<div class=\"x\">\n")
    chunks = chunk_corpus(load_corpus(tmp_path), 300, 1)
    assert [(c.section, c.text) for c in chunks] == [("Notes", "Calcium keeps bones strong.")]


def test_a_french_word_is_never_patched_by_the_spelling_fixer():
    vocabulary = Vocabulary.from_texts(["bone metastases spread to the spine"])
    assert vocabulary.fix_spelling("que sont les métastases osseuses?") == "que sont les métastases osseuses?"
    assert vocabulary.fix_spelling("what are metastasses?") == "what are metastases?"  # ASCII typos still fixed


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(chunk_chars="300"), "setting chunk_chars must be int"),
        (dict(top_k=True), "setting top_k must be int"),
        (dict(corpus_dir="corpus"), "setting corpus_dir must be Path"),
        (dict(chunk_overlap=-1), "chunk_overlap must be 0 or more"),
        (dict(ivf_nprobe=0), "ivf_nprobe must be at least 1"),
        (dict(threads=0), "threads must be at least 1"),
        (dict(max_file_mb=0), "max_file_mb must be a positive number"),
        (dict(abstain_below=1.5), "abstain_below must be in"),
    ],
)
def test_settings_of_the_wrong_type_or_range_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        Settings(**change)


# --- 7, 8: the index ----------------------------------------------------------


def _rehash(build: Path, name: str) -> None:
    """Make the manifest agree with a file changed on purpose, to reach the check behind the checksum."""
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((build / name).read_bytes()).hexdigest()
    (build / "manifest.json").write_text(json.dumps(manifest))


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 40, len(data) - 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _random_faiss(path: Path) -> None:
    import faiss

    dense = faiss.read_index(str(path))
    other = faiss.IndexFlatIP(dense.d)
    other.add(np.random.default_rng(0).standard_normal((dense.ntotal, dense.d)).astype(np.float32))
    faiss.write_index(other, str(path))  # same size, other vectors


def _edit_chunk_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Zometa is a bisphosphonate", "Zometa is a vitamin pill"), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        ("chunks.faiss", _flip_bytes),
        ("chunks.faiss", _random_faiss),
        ("chunk_vectors.npy", _flip_bytes),
        ("unit_vectors.npy", _flip_bytes),
        ("chunks.json", _edit_chunk_text),
    ],
    ids=["faiss-flipped-bytes", "faiss-random-vectors-same-size", "chunk-vectors-flipped", "unit-vectors-flipped", "edited-chunk-text"],
)
def test_a_damaged_index_is_refused_never_used(tiny_settings, damage):
    name, spoil = damage
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    before = Assistant.load(tiny_settings, embedder=FakeEmbedder()).ask("what is zometa?").text
    spoil(build / name)
    with pytest.raises(CorruptIndexError, match=f"index damaged: .*{name} differs from the file that was built.*`qa index`"):
        Assistant.load(tiny_settings, embedder=FakeEmbedder())
    with pytest.raises(CorruptIndexError):
        verify_index(tiny_settings, FakeEmbedder())  # what `qa index` checks before saying "up to date"
    rebuilt = build_index(tiny_settings, FakeEmbedder(), progress=False)
    assert rebuilt != build
    assert Assistant.load(tiny_settings, embedder=FakeEmbedder()).ask("what is zometa?").text == before


def test_qa_index_rebuilds_a_damaged_index(cli, tiny_settings, capsys):
    assert cli("index") == 0
    _flip_bytes(current_build(tiny_settings.index_dir) / "chunks.faiss")
    assert cli("index") == 0
    assert "building the index (index damaged)" in capsys.readouterr().err
    assert cli("index") == 0 and "up to date" in capsys.readouterr().out


def test_nan_vectors_are_refused_even_with_a_matching_checksum(tiny_settings):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    vectors = np.load(build / "unit_vectors.npy")
    vectors[0, 0] = np.nan
    np.save(build / "unit_vectors.npy", vectors, allow_pickle=False)
    _rehash(build, "unit_vectors.npy")
    with pytest.raises(CorruptIndexError, match="not finite numbers"):
        load_index(tiny_settings, FakeEmbedder())


def test_a_model_making_nan_vectors_never_writes_an_index(tiny_settings):
    class Broken(FakeEmbedder):
        def encode(self, texts, progress=False):
            return np.full((len(texts), self.dimension), np.nan, np.float32)

    from qa.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="not finite numbers"):
        build_index(tiny_settings, Broken(), progress=False)
    assert not (tiny_settings.index_dir / CURRENT).exists()


def test_a_faiss_file_of_another_dimension_is_one_line(tiny_settings):
    import faiss

    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    dense = faiss.read_index(str(build / "chunks.faiss"))
    other = faiss.IndexFlatIP(32)
    other.add(np.zeros((dense.ntotal, 32), np.float32))
    faiss.write_index(other, str(build / "chunks.faiss"))
    _rehash(build, "chunks.faiss")
    with pytest.raises(CorruptIndexError, match=r"holds \d+ 32-d vectors, not \d+ 64-d ones"):
        load_index(tiny_settings, FakeEmbedder())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.pop("model"), "no valid model.name"),
        (lambda m: m["model"].update(dimension="384"), "no valid model.dimension \\(a whole number\\)"),
        (lambda m: m["model"].pop("fingerprint"), "no valid model.fingerprint"),
        (lambda m: m["files"].pop("chunks.faiss"), "no valid files.chunks.faiss"),
        (lambda m: m.update(format="two"), "no valid format number"),
    ],
)
def test_a_manifest_missing_or_mistyping_a_field_is_damaged(tiny_settings, edit, message):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    manifest = json.loads((build / "manifest.json").read_text())
    edit(manifest)
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match=f"index damaged: .*manifest.json has {message}"):
        load_index(tiny_settings, FakeEmbedder())


def test_a_wrong_model_name_in_the_manifest_rebuilds_the_index(tiny_settings):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["model"]["name"] = "some-other-model"
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StaleIndexError, match="another embedding model \\(some-other-model\\)"):
        load_index(tiny_settings, FakeEmbedder())
    Assistant.load(tiny_settings, embedder=FakeEmbedder())
    assert current_build(tiny_settings.index_dir) != build


def test_an_index_of_the_old_format_is_rebuilt_not_refused(tiny_settings):
    build = build_index(tiny_settings, FakeEmbedder(), progress=False)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format"] = 1
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StaleIndexError, match="another version"):
        load_index(tiny_settings, FakeEmbedder())
    Assistant.load(tiny_settings, embedder=FakeEmbedder())
    assert current_build(tiny_settings.index_dir) != build


def test_current_as_a_folder_fails_in_a_second_not_after_the_embedding(tiny_settings):
    (tiny_settings.index_dir / CURRENT).mkdir(parents=True)
    embedder = FakeEmbedder()
    with pytest.raises(CorruptIndexError, match="CURRENT is not a file: remove it"):
        load_index(tiny_settings, embedder)
    with pytest.raises(CorruptIndexError, match="CURRENT is not a file: remove it"):
        Assistant.load(tiny_settings, embedder=embedder)
    with pytest.raises(IndexFolderError, match="CURRENT is not a file.*remove it"):  # what `qa index` does next
        build_index(tiny_settings, embedder, progress=False)
    assert embedder.calls == 0
    assert not [p for p in tiny_settings.index_dir.iterdir() if p.name != CURRENT]


def test_binary_current_names_the_file(tiny_settings):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    (tiny_settings.index_dir / CURRENT).write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(CorruptIndexError, match="index damaged: .*CURRENT is not text"):
        load_index(tiny_settings, FakeEmbedder())


def test_an_unwritable_index_folder_fails_before_the_embedding(tiny_settings, monkeypatch):
    # Root writes read-only folders anyway, so the refusal is injected where the folder is made.
    import qa.index.builds

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(qa.index.builds.tempfile, "mkdtemp", refuse)
    embedder = FakeEmbedder()
    with pytest.raises(IndexFolderError, match="cannot write the index in .*Permission denied.*QA_INDEX"):
        Assistant.load(tiny_settings, embedder=embedder)
    assert embedder.calls == 0


def test_a_full_disk_while_writing_keeps_the_old_index(tiny_settings, tiny_corpus, monkeypatch):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    before = current_build(tiny_settings.index_dir)
    (tiny_corpus / "new.txt").write_text("Swimming\n\nSwimming is gentle exercise.\n")
    import qa.index.builds

    real_open = open

    def full(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith("chunks.faiss"):
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(qa.index.builds, "open", full, raising=False)
    with pytest.raises(IndexFolderError, match="No space left on device"):
        build_index(tiny_settings, FakeEmbedder(), progress=False)
    monkeypatch.undo()
    assert current_build(tiny_settings.index_dir) == before
    assert [p.name for p in tiny_settings.index_dir.iterdir() if p.name.startswith(".")] == [".lock"]  # nothing half-written


def test_index_pointing_at_a_file_is_one_line_in_cli_and_app(tmp_path, tiny_corpus, capsys, monkeypatch):
    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    not_a_folder = tmp_path / "index-file"
    not_a_folder.write_text("x")
    assert main(["ask", "--corpus", str(tiny_corpus), "--index", str(not_a_folder), "what is zometa?"]) == 2
    assert "is a file, not a folder: point --index or QA_INDEX at a folder" in one_line_error(capsys)
    monkeypatch.setenv("QA_INDEX", str(not_a_folder))
    monkeypatch.setenv("QA_CORPUS", str(tiny_corpus))
    assert app.main(["--port", str(_free_port())]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)


def test_kill_9_during_a_build_leaves_a_working_index_and_its_leftovers_are_cleaned(tiny_settings, tiny_corpus):
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    before = current_build(tiny_settings.index_dir)
    (tiny_corpus / "new.txt").write_text("Swimming\n\nSwimming is gentle exercise.\n")
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        import conftest
        from qa.index.store import build_index
        from qa.settings import Settings

        class Slow(conftest.FakeEmbedder):
            def encode(self, texts, progress=False):
                print("embedding", flush=True)
                time.sleep(60)

        build_index(Settings(corpus_dir=__import__("pathlib").Path({str(tiny_corpus)!r}),
                             index_dir=__import__("pathlib").Path({str(tiny_settings.index_dir)!r})), Slow(), progress=False)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "embedding"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert current_build(tiny_settings.index_dir) == before
    leftovers = [p for p in tiny_settings.index_dir.iterdir() if p.name.startswith(".tmp-build-")]
    assert len(leftovers) == 1  # the dead build's folder...
    Assistant.load(tiny_settings, embedder=FakeEmbedder())  # ...stale index rebuilt,
    assert not leftovers[0].exists()  # and the dead builder's folder removed


def test_two_builds_at_once_leave_one_working_index(tiny_settings):
    errors = []

    def build():
        try:
            build_index(tiny_settings, FakeEmbedder(), progress=False)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    load_index(tiny_settings, FakeEmbedder())


# --- 9, 10, 11, 12: the app ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "message, history, error",
    [
        (5, None, "message must be text \\(a string\\), got a number"),
        (["what is zometa?"], None, "message must be text \\(a string\\), got a list"),
        ({"q": 1}, None, "got an object"),
        (True, None, "got true/false"),
        ("what is zometa?", 5, "history must be a list of the earlier questions \\(strings\\), oldest first; got a number"),
        ("what is zometa?", "what is xgeva?", "history must be a list .* got text"),
        ("what is zometa?", [1, 2], "got a list holding something else"),
        ("what is zometa?", ["q"] * 51, "at most 50 earlier questions"),
    ],
)
def test_chat_api_wrong_types_get_a_plain_message(fake_assistant, tmp_path, message, history, error):
    import gradio as gr

    h = app.Handlers(fake_assistant, tmp_path / "f.jsonl")
    with pytest.raises(gr.Error, match=error):
        h.chat_api(message, history)


def test_port_out_of_range_is_refused_before_loading(monkeypatch, capsys):
    monkeypatch.setattr(Assistant, "load", lambda *a, **k: pytest.fail("loaded the assistant"))
    for port in ("99999", "0", "http"):
        with pytest.raises(SystemExit) as exit_info:
            app.main(["--port", port])
        assert exit_info.value.code == 2
        assert "must be" in capsys.readouterr().err
    monkeypatch.setenv("QA_PORT", "70000")
    with pytest.raises(SystemExit):
        app.parse_args([])
    assert "QA_PORT" in capsys.readouterr().err


def test_bad_or_empty_host_is_refused_before_loading(monkeypatch, capsys):
    monkeypatch.setattr(Assistant, "load", lambda *a, **k: pytest.fail("loaded the assistant"))

    def no_such_host(*args, **kwargs):  # what the resolver says for bogus.invalid, without asking it
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(qa.apps.server.socket, "getaddrinfo", no_such_host)
    monkeypatch.setenv("QA_HOST", "bogus.invalid")
    assert app.main([]) == 2
    err = one_line_error(capsys)
    assert "cannot listen on host 'bogus.invalid': no such address" in err and "port" not in err
    monkeypatch.undo()
    monkeypatch.setattr(Assistant, "load", lambda *a, **k: pytest.fail("loaded the assistant"))
    monkeypatch.setenv("QA_HOST", "")
    assert app.main([]) == 2
    assert "the host is empty" in one_line_error(capsys)


def test_a_port_in_use_is_refused_before_loading(monkeypatch, capsys):
    monkeypatch.setattr(Assistant, "load", lambda *a, **k: pytest.fail("loaded the assistant"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert app.main(["--port", str(port)]) == 2
    assert f"port {port} is already in use" in one_line_error(capsys)


class Blocking:
    """An assistant whose answers wait until released: every slot stays taken."""

    def __init__(self, assistant) -> None:
        self.assistant, self.release, self.started = assistant, threading.Event(), threading.Event()

    def ask(self, question, history=()):
        self.started.set()
        self.release.wait(30)
        return self.assistant.ask(question, history)


def test_a_full_house_answers_busy_in_the_chat_and_the_api(fake_assistant, tmp_path):
    import gradio as gr

    blocking = Blocking(fake_assistant)
    h = app.Handlers(blocking, tmp_path / "f.jsonl", gate=qa.apps.server.Gate(slots=1, wait_s=0.2))
    first = threading.Thread(target=h.chat_api, args=("what is zometa?",))
    first.start()
    assert blocking.started.wait(10)
    chat, questions, _, _, _ = h.respond("what is zometa?", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], [], [])
    assert "The assistant is busy; please try again in a moment." in chat[-1]["content"] and questions == []
    with pytest.raises(gr.Error, match="The assistant is busy"):
        h.chat_api("what is zometa?")
    blocking.release.set()
    first.join()
    assert "Zometa" in h.chat_api("what is zometa?")  # free again


@pytest.fixture
def live_fake(fake_assistant, tmp_path):
    from live_app import serve

    with serve(fake_assistant, tmp_path / "feedback.jsonl") as url:
        yield url


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_live_api_wrong_types_and_a_message_alone(live_fake):
    import httpx
    from gradio_client import Client

    client = Client(live_fake, verbose=False)
    with pytest.raises(Exception, match="message must be text"):
        client.predict(5, api_name="/chat")
    with pytest.raises(Exception, match="history must be a list"):
        client.predict("what is zometa?", "what is xgeva?", api_name="/chat")

    def call(body: bytes) -> str:
        event = httpx.post(live_fake + "gradio_api/call/chat", content=body, headers={"content-type": "application/json"}).json()
        return httpx.get(live_fake + f"gradio_api/call/chat/{event['event_id']}").text

    assert "Zometa is a bisphosphonate" in call(b'{"data": ["what is zometa?"]}')  # history left out
    assert "message must be text (a string), got nothing" in call(b'{"data": []}')
    assert "Zometa is a bisphosphonate" in call(b'{"data": ["what is \\ud800 zometa?", ["\\udcff"]]}')


def test_live_uploads_are_refused_and_nothing_is_served_back(live_fake):
    import httpx

    for path in ("gradio_api/upload", "gradio_api/upload/", "gradio_api/upload?upload_id=x"):
        response = httpx.post(live_fake + path, files={"files": ("note.html", b"<script>alert(1)</script>")})
        assert response.status_code == 403 and "does not accept files" in response.text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # gradio's queue calls a deprecated pandas option
def test_live_burst_of_100_requests_gets_no_queue_error(live_fake):
    import httpx

    # All 100 are queued before any result is read. Each result is read on its
    # own stream: gradio_client's one shared stream for many submits has a
    # race of its own (gradio issue #9968) that failed this test now and then.
    with httpx.Client(base_url=live_fake, timeout=120) as http:
        events = [http.post("gradio_api/call/chat", json={"data": [f"what is zometa? ({i})", []]}) for i in range(100)]
        assert all(e.status_code == 200 for e in events)
        replies = [http.get(f"gradio_api/call/chat/{e.json()['event_id']}").text for e in events]
    bad = [r for r in replies if not ("event: complete" in r and "Zometa" in r and "don't cover" not in r)]
    assert not bad, (len(bad), bad[:2])


def test_an_answer_with_a_character_the_terminal_lacks_still_prints(tiny_settings, tmp_path):
    """On a Latin-1 (or ASCII) terminal "’" becomes "?"; the answer is printed, not lost to an encoding error."""
    corpus = tmp_path / "curly-corpus"
    shutil.copytree(tiny_settings.corpus_dir, corpus)
    doc = corpus / "basics.txt"
    doc.write_text(doc.read_text(encoding="utf-8").replace("Zometa is a bisphosphonate", "Zometa’s a bisphosphonate"), encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        import qa.index.embed, conftest
        qa.index.embed.Embedder = lambda *a, **k: conftest.FakeEmbedder()
        from qa.apps.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    args = ["ask", "--corpus", str(corpus), "--index", str(tmp_path / "curly-index"), "what is zometa?"]
    env = dict(os.environ, QA_ANSWER_MODEL=str(tiny_settings.answer_model_path), QA_READER="off", PYTHONIOENCODING="latin-1")
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode("latin-1")
    assert b"Zometa?s a bisphosphonate" in done.stdout


# --- the web surface (issue 22, item 5) -----------------------------------------

def test_security_headers_are_on_every_route(live_fake):
    import httpx

    for path in ("", "config", "gradio_api/info", "no-such-page", "gradio_api/upload"):
        response = httpx.get(live_fake + path)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_dns_rebinding_host_is_refused(live_fake):
    import httpx

    evil = {"host": "evil.example", "origin": "http://evil.example"}
    response = httpx.post(live_fake + "gradio_api/call/chat", json={"data": ["what is zometa?", []]}, headers=evil)
    # Refused before the app: not answered. (Gradio's own CORS layer, outside
    # ours, still echoes the origin on the refusal; it reveals only the refusal.)
    assert response.status_code == 421 and "evil.example" in response.text and "event_id" not in response.text
    # Its own names still work, with or without the port.
    port = live_fake.rstrip("/").rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        assert httpx.get(live_fake, headers={"host": host}).status_code == 200, host


def test_another_websites_page_cannot_drive_the_chat(live_fake):
    import httpx

    port = live_fake.rstrip("/").rsplit(":", 1)[1]
    for origin in ("http://evil.example", "http://1.2.3.4", "null"):
        response = httpx.post(live_fake + "gradio_api/call/chat", json={"data": ["what is zometa?", []]}, headers={"origin": origin})
        assert response.status_code == 403, origin
    same = httpx.post(live_fake + "gradio_api/call/chat", json={"data": ["what is zometa?", []]}, headers={"origin": f"http://127.0.0.1:{port}"})
    assert same.status_code == 200


def test_api_docs_are_not_served(live_fake):
    import httpx

    for path in ("openapi.json", "docs", "redoc"):
        assert httpx.get(live_fake + path).status_code == 404, path


def test_a_20_mb_request_body_is_refused(live_fake):
    import httpx

    big = b'{"data": ["' + b"a" * 20_000_000 + b'", []]}'
    declared = httpx.post(live_fake + "gradio_api/call/chat", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 1_000_000):
            yield big[i:i + 1_000_000]

    streamed = httpx.post(live_fake + "gradio_api/call/chat", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_host_and_origin_rules():
    from qa.apps.server import allowed_hosts, host_allowed, origin_allowed

    allowed = allowed_hosts("127.0.0.1", ("chat.clinic.example",))
    assert host_allowed("localhost:7860", allowed) and host_allowed("[::1]:7860", allowed)
    assert host_allowed("chat.clinic.example", allowed) and host_allowed("192.168.1.20:7860", allowed)
    assert not host_allowed("evil.example:7860", allowed) and not host_allowed("", allowed)
    assert origin_allowed("http://192.168.1.20:7860", "192.168.1.20:7860") and origin_allowed("", "localhost")
    assert not origin_allowed("http://evil.example", "localhost:7860") and not origin_allowed("null", "localhost")


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_works_under_its_content_security_policy(live_fake):
    """The CSP is fitted to the page: Chromium reports no violation while the
    page loads and answers, and the page cannot be framed by another site."""
    from pathlib import Path

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: violations.append(str(e)) if "Content Security Policy" in str(e) else None)
        page.goto(live_fake, wait_until="load")
        page.locator("#qa-box textarea").fill("what is zometa?")
        page.keyboard.press("Enter")
        page.locator('[data-testid="bot"] .qa-answer').first.wait_for(timeout=20_000)
        assert "Zometa is a bisphosphonate" in page.locator('[data-testid="bot"] .qa-answer').first.inner_text()
        framed = browser.new_page()
        framed.set_content(f'<iframe src="{live_fake}" id="f"></iframe>')
        framed.wait_for_timeout(1500)
        inner = framed.frames[1] if len(framed.frames) > 1 else None
        assert inner is None or inner.url in ("", "about:blank") or "qa-box" not in (inner.content() if inner else "")
        browser.close()
    assert not violations, violations[:3]


# --- history (issue 22, item 1) ------------------------------------------------

def test_a_long_history_is_read_only_as_far_back_as_a_follow_up_needs(fake_assistant):
    """The work per question does not grow with the history: 50 earlier
    questions are prepared no more than 8 of them (counted, not timed)."""
    from qa.language.question import EARLIER_TURNS

    preparer = fake_assistant.preparer
    preparer.turn.cache_clear()
    history = [f"what is zometa? (asked {i})" for i in range(49)] + ["what is xgeva?"]
    answer = fake_assistant.ask("and its side effects?", history)
    assert preparer.turn.cache_info().misses <= EARLIER_TURNS + 1  # the history read, and the question
    assert "xgeva" in answer.resolved_question.lower()


# --- a damaged model folder (issue 22, item 3) ------------------------------------

def _shipped_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "bonemets-minilm", folder)
    return folder


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, expected", [
    (lambda f: _flip_a_byte(f / "memory.npy"), "memory.npy is not the file"),
    (lambda f: (f / "memory.json").write_text((f / "memory.json").read_text().replace('"answerable": true', '"answerable": "no"', 1)),
     "memory.json is not the file"),
    (lambda f: (f / "calibration.json").write_text('{"a": 1, "b": 0, "threshold": true}'), "calibration.json is not the file"),
    (lambda f: (f / "policy.json").write_text("[]"), "policy.json is not the file"),
    (lambda f: (f / "triage.json").unlink(), "triage.json is missing"),
    (lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
])
def test_a_damaged_model_folder_is_refused_by_its_manifest(tmp_path, tiny_corpus, damage, expected):
    """Each damage, made to a copy of the shipped folder, is refused before any
    work, with the file named and the fix; never used silently."""
    from qa.errors import AnswerModelError

    folder = _shipped_copy(tmp_path)
    Assistant_load = Assistant.load
    damage(folder)
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "index", answer_model_path=folder, model_path=folder)
    with pytest.raises(AnswerModelError, match=f"model damaged: .*{expected}.*(git checkout|make train)"):
        Assistant_load(settings)
    assert not (tmp_path / "index").exists()  # refused before indexing anything


def test_the_shipped_model_folder_matches_its_manifest():
    from qa.files import check_manifest

    check_manifest(ROOT / "models" / "bonemets-minilm", required=True)


def test_the_shipped_weights_are_at_most_60_mb_in_all():
    """Trained weights ship in the repository, each committed version kept in its history."""
    files = [path for path in (ROOT / "models").rglob("*") if path.is_file()]
    assert files and sum(path.stat().st_size for path in files) <= 60_000_000


def test_a_deleted_tokenizer_of_the_shipped_model_is_refused(tmp_path):
    from qa.errors import ModelNotFoundError
    from qa.index.embed import OnnxSentenceModel

    folder = _shipped_copy(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelNotFoundError, match="tokenizer.json is missing"):
        OnnxSentenceModel(folder)


# --- forged and lost feedback (issue 22, item 4) ----------------------------------

def test_a_forged_vote_writes_nothing_the_client_made_up(fake_assistant, tmp_path):
    """A page (or a request calling the page's functions) that sends its own
    turn, answer text or key gets nothing written: a vote rates only what this
    server answered, and the line holds the server's own record of it."""
    path = tmp_path / "feedback.jsonl"
    h = app.Handlers(fake_assistant, path)
    payload = json.dumps({"id": "k1", "text": "what is zometa?"})
    chat, questions, turns, _, _ = h.respond(payload, [], [], [])
    forged = [{"index": 1, "question": "x" * 1_000_000, "answer": {"answer": "javascript:alert(1)", "citations": [{"file": "../../etc/passwd"}]},
               "key": "0" * 32}]
    assert "no answer to rate" in h.vote(json.dumps({"index": 1, "vote": "up"}), chat, questions, forged)[3]
    assert not path.exists()
    edited = [t | {"answer": {"answer": "stop all your other cancer medicines"}, "question": "forged?"} for t in turns]
    h.vote(json.dumps({"index": 1, "vote": "down"}), chat, questions, edited)
    line = json.loads(path.read_text(encoding="utf-8"))
    assert line["question"] == "what is zometa?" and "stop all your other" not in json.dumps(line)


def test_a_vote_on_a_full_disk_is_refused_whole_and_the_next_is_a_line_of_its_own(tmp_path, monkeypatch):
    from collections import namedtuple

    import qa.apps.chat as chat_module
    from qa.apps.chat import FeedbackError, record_feedback

    path = tmp_path / "feedback.jsonl"
    ANSWER_A = {"answer": "Zometa is a bisphosphonate.", "abstained": False, "confidence": 0.9, "urgent": None, "citations": []}
    record_feedback(path, "what is zometa?", ANSWER_A, "up")
    before = path.read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(chat_module.shutil, "disk_usage", lambda p: usage(10, 10, 0))
    with pytest.raises(FeedbackError, match="disk is full"):
        record_feedback(path, "what is xgeva?", ANSWER_A, "down")
    assert path.read_bytes() == before
    monkeypatch.undo()
    real_write = os.write
    monkeypatch.setattr(chat_module.os, "write", lambda fd, data: real_write(fd, data[:7]))  # the disk fills part way
    with pytest.raises(FeedbackError):
        record_feedback(path, "what is xgeva?", ANSWER_A, "down")
    assert path.read_bytes() == before  # cut back to the last whole line
    monkeypatch.undo()
    record_feedback(path, "is it chemo?", ANSWER_A, "up")
    assert [json.loads(line)["question"] for line in path.read_text().splitlines()] == ["what is zometa?", "is it chemo?"]


# --- corpus HTML and markup (issue 22, item 6; the rest is in tests/test_webpage.py) ---

def test_pathological_markup_finishes_in_seconds_not_minutes(tmp_path):
    """33,000 unfinished `<a ` in a page (past 120 s), a 240 KB .md of `<!-- `
    (past 300 s) and a 256 KB `<script ` history item (48 s) each went
    quadratic. Run in a child so that a regression fails at the guard instead of
    hanging the suite; the guard is a hang detector, not a speed measure
    (each now takes well under a second)."""
    (tmp_path / "links.html").write_text("<p>Gentle walks keep bones strong.</p>" + "<a " * 33_000, encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Notes\n\nCalcium keeps bones strong.\n\n" + "<!-- " * 48_000, encoding="utf-8")
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from qa.ingest.chunk import chunk_corpus
        from qa.ingest.corpus import load_corpus
        from qa.language.question import clean_question
        chunks = chunk_corpus(load_corpus(Path(sys.argv[1])), 300, 1)
        print(sorted(c.text for c in chunks))
        print(repr(clean_question("what is zometa? " + "<script " * 32_000)))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['Calcium keeps bones strong.', 'Gentle walks keep bones strong.']", "'what is zometa?'"]


# --- the command line (issue 22, item 7) ------------------------------------------

def test_a_renamed_corpus_file_warns_naming_both_files_and_the_fix(tmp_path, caplog):
    """leaflet.txt renamed on disk to clinic-leaflet.txt while metadata.toml still
    names leaflet.txt: its publisher would be lost without a word."""
    (tmp_path / "clinic-leaflet.txt").write_text("Pain relief\n\nHeat packs can ease aches.\n", encoding="utf-8")
    (tmp_path / "metadata.toml").write_text('[[document]]\nfile = "leaflet.txt"\nid = "clinic"\npublisher = "Riverside Clinic"\n')
    with caplog.at_level("WARNING", logger="qa.corpus"):
        (doc,) = load_corpus(tmp_path)
    assert doc.publisher == "your own document"  # indexed, not refused
    (message,) = [r.getMessage() for r in caplog.records if r.name == "qa.corpus"]
    assert message == (
        f"metadata for leaflet.txt is not used: {tmp_path / 'metadata.toml'} names leaflet.txt, which is not in {tmp_path}; "
        f'clinic-leaflet.txt has no entry: if it is leaflet.txt renamed, change file = "leaflet.txt" to '
        f'file = "clinic-leaflet.txt" in {tmp_path / "metadata.toml"}; otherwise remove the entry'
    )
    caplog.clear()
    (tmp_path / "clinic-leaflet.txt").unlink()
    (tmp_path / "notes.md").write_text("# Notes\n\nRest.\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa.corpus"):
        load_corpus(tmp_path)
    assert [r.getMessage().split("; ", 1)[1] for r in caplog.records] == [
        f"put leaflet.txt back in {tmp_path}, or remove its entry from {tmp_path / 'metadata.toml'}"
    ]
    caplog.clear()
    (tmp_path / "metadata.toml").write_text('[[document]]\nfile = "notes.md"\nid = "notes"\n')
    with caplog.at_level("WARNING", logger="qa.corpus"):
        load_corpus(tmp_path)
    assert not caplog.records  # every entry names a file that is there: nothing to say

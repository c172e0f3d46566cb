import json
from types import SimpleNamespace

from qa.evaluation.measure import metrics
from qa.evaluation.run import run_eval
from qa.training.gold import Result, contains_gold, judge, token_f1


def test_token_f1_is_squad_style():
    assert token_f1("The bone scan", "bone scan") == 1.0
    assert token_f1("bone", "bone scan") == 2 * (1 * 0.5) / 1.5
    assert token_f1("x-ray", "MRI") == 0.0


def test_gold_spans_match_across_case_quotes_and_spaces():
    assert contains_gold("It’s  Denosumab\n(Xgeva)", ["denosumab (xgeva)"])
    assert contains_gold("it's here", ["It’s here"])
    assert not contains_gold("zometa", ["xgeva"])


def _answer(text, abstained=False, units=(), quote=""):
    return {"answer": text, "abstained": abstained, "units": list(units), "urgent": None, "confidence": 0.9,
            "citations": [{"n": 1, "quote": quote}]}


def test_judging_answerable_and_unanswerable_items():
    item = {"answerable": True, "answers": ["bone scan"], "kind": "single", "split": "dev"}
    good = judge(Result(item, _answer("A bone scan. [1]", units=[{"text": "A bone scan.", "citation": 1}], quote="A bone scan."), [True], 0.01))
    assert good.correct and good.cited_right and good.f1 > 0.6
    miss = judge(Result(item, _answer("Rest. [1]", units=[{"text": "Rest.", "citation": 1}]), [False] * 5, 0.01))
    assert not miss.correct and miss.cause.startswith("retrieval miss")
    off = {"answerable": False, "answers": [], "kind": "unanswerable", "split": "dev", "unanswerable_type": "off-topic"}
    assert judge(Result(off, _answer("", abstained=True), [], 0.01)).correct
    m = metrics([good, miss, judge(Result(off, _answer("", abstained=True), [], 0.01))])
    assert m["hit@1"] == 0.5 and m["answer accuracy"] == 0.5 and m["abstention recall"] == 1.0
    assert m["abstain: off-topic"] == 1.0 and m["false abstentions"] == 0.0


def test_qa_eval_runs_a_set_and_writes_a_report(tiny_settings, tmp_path, monkeypatch, capsys):
    from conftest import FakeEmbedder

    import qa.index.embed

    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    qset = tmp_path / "set.jsonl"
    rows = [
        {"id": "1", "question": "side effects of zometa?", "history": [], "answerable": True, "answers": ["headache"],
         "sources": ["basics"], "kind": "single", "split": "dev", "urgent": False, "unanswerable_type": None},
        {"id": "2", "question": "what are its side effects?", "history": ["what is zometa?"], "answerable": True,
         "answers": ["headache"], "sources": ["basics"], "kind": "followup", "split": "dev", "urgent": False, "unanswerable_type": None},
        {"id": "3", "question": "how do I renew my passport?", "history": [], "answerable": False, "answers": [],
         "sources": [], "kind": "unanswerable", "split": "dev", "urgent": False, "unanswerable_type": "off-topic"},
    ]
    qset.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    args = SimpleNamespace(qset=qset, split="dev", predictions=tmp_path / "pred.jsonl", report=tmp_path / "report", no_ablations=False)
    assert run_eval(args, tiny_settings) == 0
    assert "answer accuracy" in capsys.readouterr().out
    report = (tmp_path / "report" / "report.md").read_text()
    for heading in ("## Overall", "## Per kind", "## Ablations", "## Calibration", "## Failures by cause"):
        assert heading in report
    for part in ("no fine-tuning", "no learned answer model", "with question memory"):
        assert f"| {part}" in report
    assert (tmp_path / "report" / "calibration.png").stat().st_size > 0
    assert (tmp_path / "report" / "hit_at_k.png").stat().st_size > 0
    assert len((tmp_path / "pred.jsonl").read_text().splitlines()) == 3


def test_no_ablations_also_spares_leave_one_document_out_the_reader_without_leaflets(tiny_settings, tmp_path, monkeypatch):
    from conftest import FakeEmbedder

    import qa.evaluation.lodo
    import qa.index.embed

    monkeypatch.setattr(qa.index.embed, "Embedder", lambda *a, **k: FakeEmbedder())
    asked = []
    monkeypatch.setattr(qa.evaluation.lodo, "run_lodo", lambda *a, **k: (asked.append(k), ({}, "# lodo"))[1])
    qset = tmp_path / "set.jsonl"
    qset.write_text(json.dumps({"id": "3", "question": "how do I renew my passport?", "history": [], "answerable": False,
                                "answers": [], "sources": [], "kind": "unanswerable", "split": "dev", "urgent": False,
                                "unanswerable_type": "off-topic"}) + "\n")
    for skip in (True, False):
        args = SimpleNamespace(qset=qset, split="dev", predictions=None, report=None, no_ablations=skip,
                               lodo=True, lodo_cache=tmp_path / "lodo", lodo_folds=2)
        assert run_eval(args, tiny_settings) == 0
    assert [(k["ablation"], k["folds"]) for k in asked] == [(False, 2), (True, 2)]

"""Write the evaluation report: `report.md` plus PNG plots."""

from __future__ import annotations

import platform
import time
from collections import defaultdict
from pathlib import Path

from qa.evaluation.measure import (
    HEADLINE,
    Result,
    by_group,
    calibration,
    metrics,
    table,
)

ABSTAIN_KEYS = ["abstention precision", "abstention recall", "false abstentions",
                "abstain: off-topic", "abstain: uncovered-medical", "abstain: near-miss"]
ABLATION_KEYS = ["hit@1", "hit@5", "mrr@10", "answer accuracy", "follow-up accuracy", "false abstentions",
                 "abstention recall", "abstain: uncovered-medical", "ECE"]
LEARNING_CURVE = "learning_curve.json"  # in the report folder, written by eval/learning_curve.py (make learning-curve)


def write_report(folder: Path, qset: Path, split: str, results: list[Result], ablations: dict, assistant, triage: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    overall = metrics(results)
    kinds, docs = by_group(results)
    lines = [
        "# Evaluation report",
        "",
        f"Set `{qset}`, split `{split}` ({len(results)} questions), run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"on {platform.machine()} / Python {platform.python_version()}. Regenerate with `make eval`.",
        f"Settings: retrieval={assistant.settings.retrieval}, top_k={assistant.settings.top_k}, "
        f"chunk_chars={assistant.settings.chunk_chars}, overlap={assistant.settings.chunk_overlap}, "
        f"model={assistant.embedder.name}, abstain below {assistant.threshold:.2f} (calibration fitted on "
        f"{assistant.calibration.fitted_on}). Thresholds and calibration were chosen on the dev split only; "
        "the models were trained on questions written from the corpus (train/, as their cards name), which the test split never touches.",
        "",
        "## Overall",
        "",
        table({"all": overall}, HEADLINE),
        "",
        "## Per split",
        "",
        table({s: metrics([r for r in results if r.item["split"] == s]) for s in ("dev", "test")}, HEADLINE),
        "",
        "## Per kind",
        "",
        table(kinds, HEADLINE),
        "",
        "## Abstention",
        "",
        table({"all": overall}, ABSTAIN_KEYS),
        "",
        "## Per document (an item counts for each of its sources)",
        "",
        table(docs, ["n", "hit@5", "mrr@10", "answer accuracy", "token F1", "citation accuracy"]),
        "",
    ]
    if ablations:
        lines += ["## Ablations", "", "Each trained part off (the variant recalibrated on dev), then retrieval and follow-up switches.", ""]
        for split in ("dev", "test"):
            rows = {k: metrics([r for r in v if r.item["split"] == split]) for k, v in ablations.items()}
            if any(m["n"] for m in rows.values()):
                lines += [f"### {split}", "", table(rows, ABLATION_KEYS), ""]
        lines += ["![hit@k per retrieval mode](hit_at_k.png)", ""]
        _plot_hit_at_k(folder / "hit_at_k.png", ablations)
    if triage:
        from qa.evaluation.triage import KEYS as TRIAGE_KEYS

        lines += ["## Triage: urgent signs in patients' own words", "",
                  "Messages from `train/triage/` written by writers the triage never trained on: the dev split (its "
                  "thresholds were set there) and the held-out split (never used for training, thresholds or choices). "
                  "Recall: the red Urgent box appears when a sign is happening now; false alarms: it appears when "
                  "nothing is (definitions, past events, fears, other questions); help note: the calm \"When to get "
                  "help\" note on messages that only touch the topic. The rules alone are the regular expressions the "
                  "triage replaced, in the same pipeline. Other topics' leaflets: the questions of 40 leaflets on other "
                  "cancer-care topics that no triage trained on (`train/leaflets` writer lc, `leaflets-more`, "
                  "`leaflets-unseen`), where the red box is a false alarm.", "", table(triage, TRIAGE_KEYS), ""]
    lines += _learning_curve(folder)
    rows = calibration(results)
    ece = {s: metrics([r for r in results if r.item["split"] == s]).get("ECE") for s in ("dev", "test")}
    lines += ["## Calibration (answered questions; an answer to an unanswerable question is wrong)", "",
              "Expected calibration error (10 bins): " + ", ".join(f"{s} {v:.3f}" for s, v in ece.items() if v is not None), "",
              "| confidence | answers | accuracy |", "|---|---|---|"]
    lines += [f"| {b} | {n} | {'-' if a is None else f'{a:.3f}'} |" for b, n, a in rows]
    lines += ["", "![accuracy per confidence bucket](calibration.png)", ""]
    _plot_calibration(folder / "calibration.png", rows)
    lines += _failures(results)
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _learning_curve(folder: Path) -> list[str]:
    """The learning-curve table and plot, from the last `make learning-curve`."""
    import json

    curve = folder / LEARNING_CURVE
    if not curve.is_file():
        return ["## Learning curve", "", "Not measured yet: run `make learning-curve`.", ""]
    points = json.loads(curve.read_text(encoding="utf-8"))["points"]
    keys = ["answer accuracy", "hit@5", "follow-up accuracy", "false abstentions", "abstention recall"]
    rows = {f"{p['fraction']:.0%} ({p['questions']} questions), {split}": p[split] for p in points for split in ("dev", "test")}
    _plot_learning_curve(folder / "learning_curve.png", points)
    return [
        "## Learning curve",
        "",
        "The embedding model fine-tuned on a share of the training questions (same seed, same steps per example), "
        "remembering the questions it saw, read by the shipped answer model and calibration. From `eval/learning_curve.json` (`make learning-curve`).",
        "",
        table(rows, keys),
        "",
        "![learning curve](learning_curve.png)",
        "",
    ]


def _plot_learning_curve(path: Path, points: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    shares = [p["fraction"] * 100 for p in points]
    for split, style in (("dev", "o-"), ("test", "s--")):
        ax.plot(shares, [p[split]["answer accuracy"] for p in points], style, label=f"answer accuracy, {split}")
        ax.plot(shares, [p[split]["hit@5"] for p in points], style, alpha=0.5, label=f"hit@5, {split}")
    ax.set_xlabel("% of the training set")
    ax.set_ylabel("rate")
    ax.set_title("Learning curve")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _failures(results: list[Result]) -> list[str]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if not r.correct:
            groups[r.cause].append(r)
    lines = ["## Failures by cause", ""]
    if not groups:
        return lines + ["None.", ""]
    for cause, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines += [f"### {cause} ({len(items)})", "", "| id | question | history | expected | got |", "|---|---|---|---|---|"]
        for r in items:
            got = r.answer["message"] if r.answer["abstained"] else r.answer["answer"]
            expected = " / ".join(r.item["answers"]) if r.item["answers"] else "(abstain)"
            lines.append(
                f"| {r.item['id']} | {_cell(r.item['question'])} | {_cell(' / '.join(r.item['history']))} "
                f"| {_cell(expected)} | {_cell(got, 220)} |"
            )
        lines.append("")
    return lines


def _cell(text: str, limit: int = 120) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plot_hit_at_k(path: Path, ablations: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = range(1, 11)
    for name, results in ablations.items():
        answerable = [r for r in results if r.item["answerable"]]
        ax.plot(ks, [sum(any(r.ranks[:k]) for r in answerable) / len(answerable) for k in ks], marker="o", label=name)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("hit@k")
    ax.set_title("Retrieval: a passage holding the answer in the top k")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_calibration(path: Path, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [b for b, _, _ in rows]
    values = [a if a is not None else 0 for _, _, a in rows]
    bars = ax.bar(labels, values, color="#3b6ea5")
    for bar, (_, n, _) in zip(bars, rows):
        ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.plot(range(len(labels)), [0.1, 0.3, 0.5, 0.7, 0.9], "k--", label="perfect calibration")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("answer accuracy")
    ax.set_title("Calibration: accuracy per confidence bucket")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

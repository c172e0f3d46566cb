"""Write the evaluation report: `report.md` plus PNG plots."""

from __future__ import annotations

import platform
import time
from collections import defaultdict
from pathlib import Path

from qa.evaluate import HEADLINE, Result, by_group, calibration, metrics, table

ABSTAIN_KEYS = ["abstention precision", "abstention recall", "false abstentions",
                "abstain: off-topic", "abstain: uncovered-medical", "abstain: near-miss"]
ABLATION_KEYS = ["hit@1", "hit@5", "mrr@10", "answer accuracy", "follow-up accuracy", "false abstentions", "abstention recall"]


def write_report(folder: Path, qset: Path, split: str, results: list[Result], ablations: dict, assistant) -> Path:
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
        f"abstain_below={assistant.settings.abstain_below}. Thresholds and weights were chosen on the dev split only.",
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
        lines += ["## Ablations", "", table({k: metrics(v) for k, v in ablations.items()}, ABLATION_KEYS), ""]
        lines += ["![hit@k per retrieval mode](hit_at_k.png)", ""]
        _plot_hit_at_k(folder / "hit_at_k.png", ablations)
    rows = calibration(results)
    lines += ["## Calibration (answered answerable questions)", "", "| confidence | answers | accuracy |", "|---|---|---|"]
    lines += [f"| {b} | {n} | {'-' if a is None else f'{a:.3f}'} |" for b, n, a in rows]
    lines += ["", "![accuracy per confidence bucket](calibration.png)", ""]
    _plot_calibration(folder / "calibration.png", rows)
    lines += _failures(results)
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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

"""The speed benchmark's Markdown report and plot (eval/bench.py writes them with
`render` and `plot_scale`), and the machine description that heads the report."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path

import numpy as np
from bench_scale import (
    RECALL_AT,
    RECALL_TARGET,
    SYNTHETIC_NOISE,
    TARGET_P95_MS,
    K,
    recommendation_text,
)


def machine_info(args) -> dict:
    """CPU, cores, memory, Python and library versions, thread counts."""
    import faiss
    import sentence_transformers
    import torch

    def first(path: str, prefix: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    mem_kb = first("/proc/meminfo", "MemTotal")
    flags = set(first("/proc/cpuinfo", "flags").split())
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        # What the int8 models run on: a reader call took 13.5 ms on an earlier machine with VNNI, 38 on AVX2 alone.
        "int8 instructions": "unknown" if not flags else "VNNI" if flags & {"avx512_vnni", "avx_vnni", "amx_int8"}
        else "AVX2, no VNNI" if "avx2" in flags else "no AVX2",
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "ram": f"{int(mem_kb.split()[0]) / 2**20:.1f} GiB" if mem_kb != "unknown" else mem_kb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "torch threads": f"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op",
        "faiss threads": f"{faiss.omp_get_max_threads()} by default; builds use {args.threads}, single-query timings 1 (and {args.threads} for exact)",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# ---------------------------------------------------------------- Markdown


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ms(x: float) -> str:
    """Milliseconds with sensible precision."""
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def mib(n: float) -> str:
    """Bytes as MiB, with one decimal."""
    return f"{n / 2**20:,.1f}"


def render(results: dict) -> str:
    """The whole Markdown report."""
    r, args = results, results["args"]
    out = [
        "# Speed benchmark",
        "",
        f"Run {r['date']} with `{r['command']}` ({'smoke' if args.smoke else 'full'} run, {r['seconds']:.0f} s). "
        f"Questions: {r['n_questions']} from {r['question_source']}. Every number is wall-clock time on the machine below; "
        "a busy machine makes them worse, so compare only runs on a quiet machine.",
    ]
    # The load average counts the benchmark's own threads; what disturbs it is
    # the CPU other processes used, and time the hypervisor stole.
    seen = r.get("interference")
    if seen is None:
        out += ["", "Other processes' CPU use could not be read here (no /proc/stat)."]
    else:
        out += ["", f"While it ran, other processes used {seen['others']:.2f} core(s) on average and the hypervisor "
                f"stole {seen['steal']:.2f}."]
        if seen["others"] > 0.2 or seen["steal"] > 0.2:
            out += ["", "**Warning: the machine was busy with other work during this run: these numbers are worse "
                    "than a quiet machine's. Rerun on a quiet machine.**"]
    out += [
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in r["machine"].items()] + [["load average at end", r["load_end"]]]),
    ]
    out += _latency_section(r) + _throughput_section(r) + _cold_section(r) + _build_section(r)
    out += _breakdown_section(r) + _scale_section(r)
    return "\n".join(out) + "\n"


def _latency_section(r: dict) -> list[str]:
    rows = [[g, s["n"], fmt_ms(s["p50"]), fmt_ms(s["p95"]), fmt_ms(s["mean"]), fmt_ms(s["max"])] for g, s in r["latency"].items()]
    return ["", "## 1. Warm latency of `ask`", "",
            f"One untimed warm-up pass over the questions, then {r['args'].repeats} timed pass(es) on the main thread (as the "
            f"command line asks), with the embedding model and the reader at {r['throughput'][0]['threads']} ONNX Runtime "
            "threads each (`Settings.threads`) and then at 1; "
            "follow-ups are asked with their history. Every question is timed cold (nothing kept, as a new user's), "
            "except in the row *in its conversation*: there each follow-up comes right after its earlier questions "
            "were asked (untimed), as a chat asks them, so what was read for those is kept (`Settings.turn_cache`).",
            "", table(["questions", "n", "median ms", "p95 ms", "mean ms", "max ms"], rows)]


def _throughput_section(r: dict) -> list[str]:
    rows = [[t["workers"], t["threads"], t["questions"], f"{t['seconds']:.2f}", f"{t['qps']:.1f}", t["errors"]]
            for t in r["throughput"]]
    lines = ["", "## 2. Throughput", "",
             "The same questions through a `ThreadPoolExecutor` (pool threads, as the web app's handlers run); "
             "the models' ONNX Runtime threads per row "
             f"(default: {r['throughput'][0]['threads']}).", "",
             table(["workers", "model threads", "questions", "seconds", "questions/s", "errors"], rows)]
    errors = [t["first_error"] for t in r["throughput"] if t["first_error"]]
    if errors:
        lines += ["", f"First error: `{errors[0][:300]}`"]
    return lines


def _cold_section(r: dict) -> list[str]:
    lines = ["", "## 3. Cold start", ""]
    runs = r["cold_start"]
    if not runs:
        return lines + ["Skipped (`--cold-runs 0`, the smoke default)."]
    rows = [[i + 1, f"{c['to_answer']:.2f}", f"{c['interpreter']:.2f}", f"{c['import']:.2f}", f"{c['load']:.2f}",
             f"{c['ask'] * 1000:.0f}", f"{c['wall']:.2f}"] for i, c in enumerate(runs)]
    median = statistics.median(c["to_answer"] for c in runs)
    return lines + [
        "A fresh `python -c` that imports `qa`, runs `Assistant.load()` (model load, index load, warm-up) on the "
        "already built index and answers 'what is xgeva?'. *To answer* is from spawning the process to the answer; "
        "*process* includes interpreter exit.", "",
        table(["run", "to answer s", "interpreter start s", "import qa s", "Assistant.load s", "ask ms", "process s"], rows),
        "", f"Median process start to first answer: **{median:.2f} s**.",
    ]


def _build_section(r: dict) -> list[str]:
    return _build_rows(r) + _chunking_rows(r)


def _chunking_rows(r: dict) -> list[str]:
    rows = [[c["what"], f"{c['mb']:.2f}", f"{c['seconds']:.2f}", f"{c['mb_per_s']:.2f}", f"{c['chunks']:,}"] for c in r.get("chunking", [])]
    if not rows:
        return []
    return ["", "Chunking speed (clean, split into sentences with pysbd, chunk; no embedding), in-process. "
            "It sets the corpus's per-file size limit (`max_file_mb`, 20 MB by default).", "",
            table(["text", "MB", "seconds", "MB/s", "chunks"], rows)]


def _build_rows(r: dict) -> list[str]:
    lines = ["", "## 4. Index build", ""]
    b = r["build"]
    if not b:
        return lines + ["Skipped (`--no-build`, the smoke default)."]
    rows = [
        ["chunks / units", f"{b['counts']['chunks']:,} / {b['counts']['units']:,} ({b['faiss']})"],
        ["model load (child, with imports)", f"{b['load']:.2f} s"],
        ["`build_index` (clean, chunk, embed, write)", f"{b['build']:.2f} s"],
        *([[f"add one document (`qa add`: {b['add_embedded']:,} new texts embedded, not {b['full_embedded']:,})",
            f"{b['add_one']:.2f} s"]] if "add_one" in b else []),
        ["child process wall clock", f"{b['wall']:.2f} s"],
        ["peak RSS after model load", f"{b['rss_loaded_kb'] / 1024:,.0f} MiB"],
        ["peak RSS of the build (ru_maxrss)", f"{b['rss_peak_kb'] / 1024:,.0f} MiB"],
        ["index size on disk", f"{mib(b['bytes'])} MiB"],
    ]
    return lines + ["A child process builds the index of the real corpus into a temporary folder.", "", table(["", ""], rows)]


def _breakdown_section(r: dict) -> list[str]:
    b = r["breakdown"]
    names = [("prepare", "prepare (clean, follow-up, spelling)"), ("embed", "query embedding (the floor)"),
             ("faiss", "FAISS dense ranking (20)"), ("bm25", "BM25 ranking (20)"),
             ("fusion", "fusion and passages (search - dense - BM25)"), ("search", "= `retriever.search` (dense + BM25 + fusion)"),
             ("answer", "answer selection (features, answer model, reader)"),
             ("rest", "rest of `ask` (checks, a follow-up's earlier answer, retries, citations)"), ("ask", "**`ask` end to end**")]
    rows = [[label, fmt_ms(b[key]), f"{100 * b[key] / b['ask']:.0f}%"] for key, label in names]
    return ["", "## 5. Where the time goes", "",
            "Medians per question, each step timed alone on the main thread as `ask` calls it, each retrieval step "
            "right after a forward pass of the model (FAISS and torch at their default threads, as in the app). "
            "The three retrieval rows add up to the `retriever.search` row; *rest* is `ask` minus prepare, embedding, "
            "search and answer selection.",
            "", table(["step", "median ms", "share of ask"], rows), "",
            f"End to end is **{b['floor_multiple']:.2f}x** the query-embedding floor."]


def _scale_section(r: dict) -> list[str]:
    s, args = r["scale"], r["args"]
    t = args.threads
    lines = ["", "## 6. Scale: dense search on synthetic corpora", "",
             f"Each synthetic vector is a normalised random mix of 2-3 of the {s['real_vectors']} real chunk and unit "
             f"vectors of the built index plus Gaussian noise (norm {SYNTHETIC_NOISE}), seed {args.seed}. "
             f"Queries: {s['real_queries']} real query embeddings of the questions, topped up to {s['queries']} with "
             f"perturbed real vectors. Searches ask for the top {K}, as the app does; recall@{RECALL_AT} is against exact "
             f"search. Builds and the batched ground truth use {t} FAISS thread(s) (`faiss.omp_set_num_threads`); "
             "single-query timings use 1 thread, and exact search is also timed at "
             f"{t} threads, FAISS's default, which the app keeps (FAISS and torch share one OpenMP runtime, and the query embedding gains more from 2 threads than a small exact search loses).", "", "### Exact (IndexFlatIP)", ""]
    rows = []
    for row in s["rows"]:
        e = row["exact"]
        cells = [f"{row['n']:,}", f"{e['build_s']:.2f}", mib(e["vector_bytes"]), mib(e["index_bytes"]),
                 fmt_ms(e["t1"]["p50"]), fmt_ms(e["t1"]["p95"])]
        if t != 1:
            cells += [fmt_ms(e[f"t{t}"]["p50"]), fmt_ms(e[f"t{t}"]["p95"])]
        rows.append(cells + [f"{e['top1_cos']:.3f}"])
    headers = ["vectors", "build s", "vectors MiB", "index MiB", "p50 ms (1 thr)", "p95 ms (1 thr)"]
    if t != 1:
        headers += [f"p50 ms ({t} thr)", f"p95 ms ({t} thr)"]
    lines += [table(headers + ["mean top-1 cosine"], rows)]
    lines += ["", "### IVF, as `qa.index.store.make_faiss` builds it above `exact_search_max` "
              "(IndexIVFFlat, about 4 sqrt(n) lists, trained on 40 points per list)", ""]
    lines += [_sweep_table(s["rows"], "ivf", "nprobe")]
    if "hnsw" in s["rows"][0]:
        first = s["rows"][0]["hnsw"]
        lines += ["", f"### HNSW, for comparison (M={first['m']}, efConstruction={first['ef_construction']})", ""]
        lines += [_sweep_table(s["rows"], "hnsw", "efSearch")]
    lines += ["", "### Recommendation", ""] + [f"- {line}" for line in recommendation_text(r["recommendation"], t)]
    lines += ["", f"![latency and recall vs corpus size]({r['plot'].name})"]
    return lines


def _sweep_table(rows: list[dict], kind: str, param: str) -> str:
    """One line per size and sweep point."""
    body = []
    for row in rows:
        part = row[kind]
        label = f"{row['n']:,}" + (f" ({part['nlist']} lists)" if kind == "ivf" else "")
        for point in part["sweep"]:
            body.append([label, f"{part['build_s']:.2f}", mib(part["index_bytes"]), point["param"], fmt_ms(point["p50"]),
                         fmt_ms(point["p95"]), f"{point['recall']:.3f}"])
            label = ""
    return table(["vectors", "build s", "index MiB", param, "p50 ms", "p95 ms", f"recall@{RECALL_AT}"], body)


# ---------------------------------------------------------------- plot


def plot_scale(results: dict, path: Path) -> None:
    """p95 latency vs size (left) and recall vs p95 at the largest size (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, args, rec = results["scale"]["rows"], results["args"], results["recommendation"]
    sizes = [r["n"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(sizes, [r["exact"]["t1"]["p95"] for r in rows], "o-", label="exact, 1 thread")
    if args.threads != 1:
        left.plot(sizes, [r["exact"][f"t{args.threads}"]["p95"] for r in rows], "o--", label=f"exact, {args.threads} threads")
    nprobe = results["settings"].ivf_nprobe
    points = [(r["n"], next((s["p95"] for s in r["ivf"]["sweep"] if s["param"] == nprobe), None)) for r in rows]
    points = [(n, p) for n, p in points if p is not None]
    left.plot([n for n, _ in points], [p for _, p in points], "^-", label=f"IVF nprobe {nprobe} (the app)")
    left.axhline(args.exact_budget_ms, color="grey", ls=":", label=f"exact budget {args.exact_budget_ms:g} ms")
    left.axhline(TARGET_P95_MS, color="red", ls=":", label=f"target {TARGET_P95_MS:g} ms")
    left.set(xscale="log", yscale="log", xlabel="vectors", ylabel="single-query p95 (ms)", title="Search latency vs corpus size")
    left.legend(fontsize=8)
    largest = rows[-1]
    for kind, marker in (("ivf", "^-"), ("hnsw", "s-")):
        if kind in largest:
            sweep = largest[kind]["sweep"]
            right.plot([s["p95"] for s in sweep], [s["recall"] for s in sweep], marker, label=kind.upper())
            for s in sweep:
                right.annotate(str(s["param"]), (s["p95"], s["recall"]), fontsize=7, xytext=(3, -8), textcoords="offset points")
    right.axhline(RECALL_TARGET, color="red", ls=":")
    right.axvline(TARGET_P95_MS, color="red", ls=":")
    right.set(xscale="log", xlabel="p95 (ms)", ylabel=f"recall@{RECALL_AT}", title=f"Recall vs latency at {rec['largest']:,} vectors")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""Speed benchmark: latency, throughput, cold start, index build, where the
time of one question goes, and dense search on synthetic corpora of 10k to 1M
vectors (exact vs the app's IVF, HNSW for comparison), with a Markdown report and a plot.

    .venv/bin/python eval/bench.py                # full run, ~10-15 min on 2 cores -> eval/bench.md
    .venv/bin/python eval/bench.py --smoke        # CI size, < 30 s -> a temp folder
    .venv/bin/python eval/bench.py --sizes 10000,100000 --no-ivf

Run the full benchmark on a quiet machine: every number is wall-clock time.
Synthetic vectors are cached under ~/.cache/qa-bench/ (1M vectors: 1.5 GB).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# This file: the CLI and the application-level benchmarks. Dense search on synthetic
# corpora is in bench_scale.py, the Markdown report and plot in bench_report.py.
# Run as a script (`python eval/bench.py`), Python puts this folder on the path;
# the qa package is installed (`pip install -e .`), so no path is patched here.
from bench_common import cpu_seconds, interference, log, summary, timed
from bench_report import fmt_ms, machine_info, plot_scale, render
from bench_scale import bench_scale, best_setting, recommend, recommendation_text

from qa.answering.retrieve import CANDIDATES
from qa.settings import Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

FULL = dict(sizes="10000,100000,1000000", max_questions=0, repeats=3, cold_runs=3, build=True, queries=200, latency_queries=100, chunk_mb=1.0)
SMOKE = dict(sizes="2000", max_questions=8, repeats=1, cold_runs=0, build=False, queries=50, latency_queries=50, chunk_mb=0.0)


# ---------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; unset ones get the full or smoke default."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="CI size: tiny corpus sizes, few questions, no subprocesses")
    p.add_argument("--out", type=Path, help="Markdown report (default eval/bench.md; with --smoke a temp folder)")
    p.add_argument("--sizes", help="synthetic corpus sizes, comma-separated (default 10000,100000,1000000)")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl", help="question set (JSONL)")
    p.add_argument("--max-questions", type=int, help="use only the first N questions (0: all)")
    p.add_argument("--repeats", type=int, help="timed passes over the questions (after one warm-up pass)")
    p.add_argument("--cold-runs", type=int, help="cold-start subprocesses to time (0: skip)")
    p.add_argument("--build", action=argparse.BooleanOptionalAction, help="time an index build in a child process")
    p.add_argument("--chunk-mb", type=float, help="also time chunking one synthetic document of this many MB (0: skip)")
    p.add_argument("--ivf", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure HNSW for comparison (default on; the app's IVF is always measured)")
    p.add_argument("--queries", type=int, help="query vectors for the scale runs (recall ground truth)")
    p.add_argument("--latency-queries", type=int, help="single queries timed for exact search per size")
    p.add_argument("--ef-search", default="20,32,64,128,256", help="HNSW efSearch sweep")
    p.add_argument("--nprobe", default="4,8,16,32,64,128", help="IVF nprobe sweep")
    p.add_argument("--exact-budget-ms", type=float, default=2.5, help="p95 above which exact search is too slow")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where synthetic vectors are cached")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: the app's setting)")
    p.add_argument("--index", type=Path, help="index folder (default: the app's setting)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="FAISS threads for builds, ground truth and the multi-thread exact timings")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    args.ef_search = [int(s) for s in args.ef_search.split(",")]
    args.nprobe = [int(s) for s in args.nprobe.split(",")]
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="qa-bench-")) / "bench.md" if args.smoke else ROOT / "eval" / "bench.md"
    return args


def default_cache_dir() -> Path:
    """~/.cache/qa-bench, or /tmp/qa-bench where the home folder is not writable."""
    home = Path.home() / ".cache"
    return home / "qa-bench" if os.access(home if home.exists() else Path.home(), os.W_OK) else Path("/tmp/qa-bench")


# ---------------------------------------------------------------- helpers


def load_questions(path: Path, limit: int = 0) -> tuple[list[tuple[str, list[str]]], str]:
    """(question, history) pairs from the eval set, else the suggested questions."""
    pairs = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:  # the set may still be being written: skip a partial last line
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict) and isinstance(item.get("question"), str):
                pairs.append((item["question"], [h for h in item.get("history") or [] if isinstance(h, str)]))
    source = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    if not pairs:
        fallback = ROOT / "qa" / "suggested_questions.txt"
        pairs = [(q.strip(), []) for q in fallback.read_text(encoding="utf-8").splitlines() if q.strip()]
        source = f"qa/suggested_questions.txt ({source} missing or empty)"
    return (pairs[:limit] if limit else pairs), source


def app_settings(args) -> Settings:
    """The app's settings, with the corpus and index folders made absolute."""
    overrides = {"corpus_dir": args.corpus, "index_dir": args.index}
    settings = Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    return settings.with_(corpus_dir=_absolute(settings.corpus_dir), index_dir=_absolute(settings.index_dir))


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else (ROOT / path).resolve()


def child_env(settings: Settings, index_dir: Path | None = None) -> dict:
    """Environment for a child process that uses these settings."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["QA_CORPUS"] = str(settings.corpus_dir)
    env["QA_INDEX"] = str(index_dir or settings.index_dir)
    if settings.model_path is not None:
        env["QA_MODEL"] = str(settings.model_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_child(code: str, env: dict) -> tuple[dict, float]:
    """Run python code in a fresh interpreter; (the JSON it printed last, wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"child process failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


# ---------------------------------------------------------------- the assistant


def bench_latency(assistant, questions, repeats: int, one_thread=None) -> dict:
    """Warm per-question latency of `ask` on this thread: one untimed pass, then `repeats`
    timed ones with the models' threads as set (Settings.threads), and the same
    with `one_thread` (the assistant loaded at 1 thread), when given."""
    for question, history in questions:
        assistant.ask(question, history)
    times = {"all": [], "single": [], "follow-up": [], "follow-up, in its conversation": [], "all, 1 thread": []}
    for _ in range(repeats):
        for question, history in questions:
            assistant.forget()  # each timed question cold, as a new user's: the repeats find nothing kept
            _, ms = timed(assistant.ask, question, history)
            times["all"].append(ms)
            times["follow-up" if history else "single"].append(ms)
    for _ in range(repeats):  # as a chat asks them: right after the questions before, which are kept
        for question, history in (pair for pair in questions if pair[1]):
            assistant.forget()
            for n, earlier in enumerate(history):
                assistant.ask(earlier, history[:n])
            times["follow-up, in its conversation"].append(timed(assistant.ask, question, history)[1])
    if one_thread is not None:
        for question, history in questions:
            one_thread.ask(question, history)
        for _ in range(repeats):
            for question, history in questions:
                one_thread.forget()
                times["all, 1 thread"].append(timed(one_thread.ask, question, history)[1])
    return {group: summary(ms) for group, ms in times.items() if ms}


def bench_throughput(assistants: list, questions, repeats: int) -> list[dict]:
    """Questions per second with 1 and 2 worker threads, for each assistant
    (the models' threads as set, and at 1 thread)."""
    work = list(questions) * repeats
    rows = []
    for assistant in assistants:
        for workers in (1, 2):
            errors = []

            def ask(pair):
                try:
                    assistant.forget()  # between other workers' questions too: none finds its own kept
                    assistant.ask(*pair)
                except Exception as exc:  # noqa: BLE001 - counted and reported, not hidden
                    errors.append(f"{type(exc).__name__}: {exc}")

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(ask, work))
            seconds = time.perf_counter() - start
            rows.append({"workers": workers, "threads": assistant.settings.threads, "questions": len(work), "seconds": seconds,
                         "qps": len(work) / seconds, "errors": len(errors), "first_error": errors[0] if errors else ""})
    return rows


def one_thread_assistant(assistant):
    """The same assistant with its models at 1 thread (None when they already are)."""
    if assistant.settings.threads == 1:
        return None
    from qa.answering.assistant import Assistant

    return Assistant.load(assistant.settings.with_(threads=1))


def read_answer(assistant, query: str, passages, vector):
    """The answer stage alone: features of the candidates, the answer model's
    ranking, the cross-encoder reader on the best few."""
    from qa.answering.compose import read_units
    from qa.answering.features import describe

    question = describe(query, query, assistant.vocabulary)
    candidates = assistant.reader.candidates(query, passages, vector)
    return read_units(assistant.answer_model, assistant.unit_reader, question, candidates, assistant.settings)


def bench_breakdown(assistant, questions, repeats: int) -> dict:
    """Median ms of each step of one question. Each retrieval step is timed right after a
    forward pass of the model, as in `ask`: the forward pass leaves the CPU caches cold."""
    steps: dict[str, list[float]] = {k: [] for k in ("prepare", "embed", "faiss", "bm25", "search", "answer", "ask")}
    retriever, encode = assistant.retriever, assistant.embedder.encode_query
    for _ in range(repeats):
        for question, history in questions:
            assistant.forget()
            prepared, ms = timed(assistant.prepare, question, history)
            query = prepared.query  # the search query: spelling fixed, resolved against the history
            steps["prepare"].append(ms)
            vector, ms = timed(encode, query)
            steps["embed"].append(ms)
            steps["faiss"].append(timed(retriever.dense_ranking, vector, CANDIDATES)[1])
            encode(query)
            steps["bm25"].append(timed(retriever.bm25_ranking, query, CANDIDATES)[1])
            encode(query)
            passages, ms = timed(retriever.search, query, vector, assistant.settings.top_k)
            steps["search"].append(ms)
            steps["answer"].append(timed(read_answer, assistant, query, passages, vector)[1])
            assistant.forget()
            steps["ask"].append(timed(assistant.ask, question, history)[1])
    medians = {k: statistics.median(v) for k, v in steps.items()}
    medians["fusion"] = max(0.0, medians["search"] - medians["faiss"] - medians["bm25"])
    medians["rest"] = max(0.0, medians["ask"] - sum(medians[k] for k in ("prepare", "embed", "search", "answer")))
    medians["floor_multiple"] = medians["ask"] / medians["embed"]
    return medians


COLD_START = """
import json, time
t0 = time.time()
from qa import Assistant, Settings
t1 = time.time()
a = Assistant.load(Settings.from_env())
t2 = time.time()
a.ask('what is xgeva?')
t3 = time.time()
print(json.dumps({"started": t0, "import": t1 - t0, "load": t2 - t1, "ask": t3 - t2, "answered": t3}))
"""


def bench_cold_start(settings: Settings, runs: int) -> list[dict]:
    """Process start to first answer, with an index already built, `runs` times."""
    rows = []
    for _ in range(runs):
        spawned = time.time()
        child, wall = run_child(COLD_START, child_env(settings))
        rows.append({"to_answer": child["answered"] - spawned, "interpreter": child["started"] - spawned,
                     "import": child["import"], "load": child["load"], "ask": child["ask"], "wall": wall})
    return rows


BUILD = """
import json, resource, time
t0 = time.perf_counter()
from qa.index.embed import Embedder
from qa.index.store import build_index
from qa.settings import Settings
settings = Settings.from_env()
embedder = Embedder(settings.model_path)
embedder.model
t1 = time.perf_counter()
hwm_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
build = build_index(settings, embedder, progress=False)
t2 = time.perf_counter()
manifest = json.loads((build / "manifest.json").read_text())
size = sum(p.stat().st_size for p in build.iterdir())
# Add one document (a clinic's note made of the last file's paragraphs, reworded so
# none is a duplicate) to a copy of the corpus: the update embeds only its texts.
import shutil, tempfile
from pathlib import Path
corpus = Path(tempfile.mkdtemp(prefix="qa-bench-add-")) / "corpus"
shutil.copytree(settings.corpus_dir, corpus)
blank = chr(10) * 2  # a blank line between paragraphs
last = sorted(corpus.glob("*.txt"))[-1].read_text(encoding="utf-8").split(blank)
(corpus / "added.txt").write_text(blank.join(f"Clinic note {i}: {p.strip()}" for i, p in enumerate(last) if p.strip()), encoding="utf-8")
t3 = time.perf_counter()
added = build_index(settings.with_(corpus_dir=corpus), embedder, progress=False)
t4 = time.perf_counter()
shutil.rmtree(corpus.parent, ignore_errors=True)
after = json.loads((added / "manifest.json").read_text())
print(json.dumps({"load": t1 - t0, "build": t2 - t1, "rss_loaded_kb": hwm_loaded,
                  "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "counts": manifest["counts"], "faiss": manifest["faiss"], "bytes": size,
                  "add_one": t4 - t3, "add_embedded": after["embedded"], "full_embedded": manifest["embedded"]}))
"""


def bench_chunking(settings: Settings, synthetic_mb: float) -> list[dict]:
    """Clean + split + chunk speed in MB/s: the real corpus, then one synthetic document of
    `synthetic_mb` MB made of the corpus's own paragraphs (numbered, so none is a duplicate)."""
    from qa.ingest.chunk import chunk_corpus
    from qa.ingest.corpus import load_corpus

    def timed_chunking(corpus_dir: Path, what: str) -> dict:
        docs = load_corpus(corpus_dir, settings.max_file_mb)
        start = time.perf_counter()
        chunks = chunk_corpus(docs, settings.chunk_chars, settings.chunk_overlap)
        seconds = time.perf_counter() - start
        mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
        return {"what": what, "mb": mb, "seconds": seconds, "mb_per_s": mb / seconds, "chunks": len(chunks)}

    chunk_corpus(load_corpus(settings.corpus_dir, settings.max_file_mb)[:1], settings.chunk_chars, settings.chunk_overlap)  # load pysbd
    rows = [timed_chunking(settings.corpus_dir, "the real corpus")]
    if synthetic_mb > 0:
        docs = load_corpus(settings.corpus_dir, settings.max_file_mb)
        paragraphs = [p.strip() for d in docs for p in d.text[d.content_start :].split("\n\n") if len(p.strip()) > 40]
        parts, size, n = ["Synthetic document\n"], 0, 0
        while size < synthetic_mb * 1e6:
            text = f"Copy {n}: {paragraphs[n % len(paragraphs)]}"
            parts.append(text)
            size += len(text.encode("utf-8")) + 2
            n += 1
        with tempfile.TemporaryDirectory(prefix="qa-bench-chunk-") as tmp:
            (Path(tmp) / "synthetic.txt").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
            rows.append(timed_chunking(Path(tmp), f"one {synthetic_mb:g} MB document of corpus paragraphs"))
    return rows


def bench_index_build(settings: Settings) -> dict:
    """Build the real corpus's index from scratch in a child process, into a temp folder."""
    with tempfile.TemporaryDirectory(prefix="qa-bench-index-") as tmp:
        child, wall = run_child(BUILD, child_env(settings, Path(tmp)))
    child["wall"] = wall
    return child


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace, assistant=None) -> dict:
    """Run every part of the benchmark, write the report and plot; returns all the numbers."""
    started, cpu_at_start = time.perf_counter(), cpu_seconds()
    settings = assistant.settings if assistant is not None else app_settings(args)
    if assistant is None:
        from qa.answering.assistant import Assistant

        log(f"loading the assistant (index {settings.index_dir})")
        assistant = Assistant.load(settings)
    questions, source = load_questions(args.questions, args.max_questions)
    results = {"args": args, "settings": settings, "machine": machine_info(args), "question_source": source, "n_questions": len(questions),
               "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "command": " ".join(["eval/bench.py", *sys.argv[1:]]) if Path(sys.argv[0]).name == "bench.py" else "bench.run()"}
    one_thread = one_thread_assistant(assistant)
    log(f"latency over {len(questions)} questions")
    results["latency"] = bench_latency(assistant, questions, args.repeats, one_thread)
    log("throughput")
    results["throughput"] = bench_throughput([a for a in (assistant, one_thread) if a is not None], questions, args.repeats)
    log("per-step breakdown")
    results["breakdown"] = bench_breakdown(assistant, questions, args.repeats)
    log(f"cold start x{args.cold_runs}")
    results["cold_start"] = bench_cold_start(settings, args.cold_runs)
    log("index build" if args.build else "index build skipped")
    results["build"] = bench_index_build(settings) if args.build else None
    log("chunking speed")
    results["chunking"] = bench_chunking(settings, args.chunk_mb)
    results["scale"] = bench_scale(assistant, questions, args)
    results["recommendation"] = recommend(results["scale"], args, settings)
    results["seconds"] = time.perf_counter() - started
    results["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["interference"] = interference(cpu_at_start, cpu_seconds(), results["seconds"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results["plot"] = args.out.with_name(f"{args.out.stem}_scale.png")
    plot_scale(results, results["plot"])
    args.out.write_text(render(results), encoding="utf-8")
    return results


def print_summary(results: dict) -> None:
    """The headline numbers on stdout."""
    lat, b = results["latency"]["all"], results["breakdown"]
    print(f"ask latency: median {fmt_ms(lat['p50'])} ms, p95 {fmt_ms(lat['p95'])} ms over {lat['n']} calls")
    one = results["latency"].get("all, 1 thread")
    if one:
        print(f"ask latency at 1 thread: median {fmt_ms(one['p50'])} ms, p95 {fmt_ms(one['p95'])} ms")
    for t in results["throughput"]:
        print(f"throughput: {t['workers']} worker(s), {t['threads']} thread(s): {t['qps']:.1f} questions/s ({t['errors']} errors)")
    if results["cold_start"]:
        print(f"cold start to first answer: median {statistics.median(c['to_answer'] for c in results['cold_start']):.2f} s")
    if results["build"]:
        print(f"index build: {results['build']['build']:.1f} s, peak RSS {results['build']['rss_peak_kb'] / 1024:.0f} MiB")
    for row in results["chunking"]:
        print(f"chunking {row['what']}: {row['mb']:.2f} MB in {row['seconds']:.1f} s = {row['mb_per_s']:.2f} MB/s")
    print(f"end to end = {b['floor_multiple']:.2f}x the query embedding ({fmt_ms(b['embed'])} ms)")
    for row in results["scale"]["rows"]:
        e, best = row["exact"], best_setting(row["ivf"]["sweep"])
        ivf = f"IVF nprobe {best['param']} p95 {fmt_ms(best['p95'])} ms recall {best['recall']:.3f}" if best else "IVF below recall target"
        print(f"{row['n']:>9,} vectors: exact p95 {fmt_ms(e['t1']['p95'])} ms (1 thread); {ivf}")
    for line in recommendation_text(results["recommendation"], results["args"].threads):
        print("recommendation: " + line.replace("**", ""))
    print(f"report: {results['args'].out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print_summary(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

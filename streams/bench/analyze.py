"""Throughput of ``Pipeline.analyze`` next to raw rjieba segmentation, on one core, in one run.

``bench_analyze(paths, repeat, settings)`` reads the files once, warms the pipeline up, then times
``repeat`` passes of (a) ``Pipeline.analyze`` over every file and (b) a bare ``rjieba.Jieba().cut``
(jieba's default dictionary, no user words) over the same raw texts. Throughput is UTF-8 input
megabytes (10^6 bytes) per second of wall time (``time.perf_counter``); both are single-threaded.
The target is ``ratio = analyze / segment >= 0.5``. ``stage_ms_per_pass`` splits the analyze time
by stage (each stage timed alone on the same texts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.classify import classify_paragraphs
from streams.pipeline.context import attach_context
from streams.pipeline.figures import find_figures, topics_by_paragraph
from streams.pipeline.normalize import normalize
from streams.pipeline.regions import document_regions
from streams.settings import Settings
from streams.stream.analysis import get_pipeline


def _throughput(work: Callable[[], object], total_bytes: int, repeat: int) -> tuple[float, float]:
    """(MB/s, seconds) for ``repeat`` calls of ``work`` that each process ``total_bytes``."""
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    seconds = time.perf_counter() - started
    return (total_bytes * repeat / seconds / 1e6 if seconds > 0 else float("inf")), seconds


def stage_milliseconds(pipeline: Pipeline, texts: list[str], repeat: int) -> dict[str, float]:
    """Milliseconds per pass over ``texts`` spent in each stage (to see where analyze time goes)."""
    lexicon = pipeline.metric_lexicon
    docs = [normalize(text) for text in texts]
    regions = [document_regions(doc.text) for doc in docs]
    figures = [find_figures(doc, lexicon) for doc in docs]
    stages: dict[str, Callable[[], object]] = {
        "normalize": lambda: [normalize(text) for text in texts],
        "segment": lambda: [pipeline.segmenter.cut(doc.text) for doc in docs],
        "regions": lambda: [document_regions(doc.text) for doc in docs],
        "figures": lambda: [find_figures(doc, lexicon) for doc in docs],
        "classify": lambda: [
            classify_paragraphs([p.text for p in doc.paragraphs], pipeline.topic_rules,
                                topics_by_paragraph(doc.paragraphs, found))
            for doc, found in zip(docs, figures, strict=True)
        ],
        "context": lambda: [
            attach_context(found, doc_regions, doc.paragraphs, lexicon)
            for doc, doc_regions, found in zip(docs, regions, figures, strict=True)
        ],
    }
    out: dict[str, float] = {}
    for name, work in stages.items():
        _, seconds = _throughput(work, 1, repeat)
        out[name] = round(seconds / repeat * 1000, 3)
    return out


def bench_analyze(paths: list[Path], repeat: int, settings: Settings) -> dict:
    """Measure analyze vs raw segmentation throughput; returns a JSON-ready dict."""
    import rjieba

    texts = [path.read_text(encoding="utf-8") for path in paths]
    total_bytes = sum(len(text.encode("utf-8")) for text in texts)
    pipeline = get_pipeline(settings)
    raw_jieba = rjieba.Jieba()
    for text in texts:  # warm-up: caches, lazy imports, allocator
        pipeline.analyze(text)
        raw_jieba.cut(text)

    def analyze_all() -> None:
        for text in texts:
            pipeline.analyze(text)

    def segment_all() -> None:
        for text in texts:
            raw_jieba.cut(text)

    analyze_mbs, analyze_s = _throughput(analyze_all, total_bytes, repeat)
    segment_mbs, segment_s = _throughput(segment_all, total_bytes, repeat)
    return {
        "files": len(paths),
        "bytes": total_bytes,
        "repeat": repeat,
        "segmenter": settings.segmenter,
        "pipeline_version": pipeline.version,
        "analyze_mb_s": round(analyze_mbs, 3),
        "analyze_seconds": round(analyze_s, 4),
        "analyze_docs_s": round(len(texts) * repeat / analyze_s, 1) if analyze_s else None,
        "segment_mb_s": round(segment_mbs, 3),
        "segment_seconds": round(segment_s, 4),
        "ratio": round(analyze_mbs / segment_mbs, 3) if segment_mbs else None,
        "stage_ms_per_pass": stage_milliseconds(pipeline, texts, repeat),
    }


if __name__ == "__main__":  # python -m streams.bench.analyze seeds/*.txt
    import json
    import sys

    files = [Path(arg) for arg in sys.argv[1:]] or sorted(Path("seeds").glob("*.txt"))
    print(json.dumps(bench_analyze(files, 20, Settings()), ensure_ascii=False, indent=2))

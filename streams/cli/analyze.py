"""``newsetl analyze FILE... --format json|table``: the pipeline offline, one result per file.

JSON: one ``AnalysisResult.contract()`` object per input file, one per line (JSON Lines), in
input order, ``ensure_ascii=False``. Table: a rich table of paragraph topics and one of metrics.

A file that is missing, a directory, or not decodable is reported as one line on stderr
(``newsetl analyze: error: <path>: <reason>``); the other files are still processed and the
exit code is 1 at the end. Accepted encodings: UTF-8 (with or without BOM); anything else is
"not UTF-8 text" — we do not guess GB18030, because a wrong guess gives silently wrong text.

``--jobs N`` analyses files in N forked processes (the pipeline is built once, before the fork)
and prints each result in input order as soon as it and all before it are done.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal, TextIO

from rich.console import Console
from rich.table import Table

from schemas.checks import TextDecodeError, decode_utf8, length_problem
from schemas.models import AnalysisResult
from streams.ingest.articles import document_from_text
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import TooManyFigures
from streams.settings import Settings
from streams.stream.analysis import get_pipeline
from streams.stream.convert import to_analysis_result

Format = Literal["json", "table"]


class InputError(Exception):
    """A user-facing problem with one input file."""


def read_article(path: Path, max_chars: int | None = None) -> str:
    """Text of ``path`` decoded as UTF-8 (BOM allowed); :class:`InputError` otherwise."""
    if not path.exists():
        raise InputError("no such file")
    if path.is_dir():
        raise InputError("is a directory, expected a text file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc)) from None
    try:
        text = decode_utf8(data, allow_bom=True)
    except TextDecodeError as exc:
        raise InputError(str(exc)) from None
    if not text.strip():
        raise InputError("empty file")
    too_long = length_problem(text, max_chars) if max_chars is not None else None
    if too_long:
        raise InputError(too_long)
    return text


def to_json_line(result: AnalysisResult) -> str:
    """One JSON Lines record of the analysis contract."""
    return json.dumps(result.contract(), ensure_ascii=False)


def render_table(path: Path, result: AnalysisResult, console: Console) -> None:
    """Human-readable view: document summary, paragraph topics, metrics."""
    doc = result.doc
    scores = "  ".join(f"{topic} {score:.2f}" for topic, score in doc.topic_scores.items())
    console.print(f"[bold]{path}[/bold]  doc_id={doc.doc_id}  script={doc.script}")
    console.print(f"topics: {', '.join(doc.topics) or '—'}   scores: {scores}")
    console.print(f"regions: {', '.join(doc.regions) or '—'}   keywords: {', '.join(result.keywords) or '—'}")
    console.print(_paragraph_table(result))
    console.print(_metric_table(result))


def _paragraph_table(result: AnalysisResult) -> Table:
    table = Table(title="paragraph topics", show_lines=False)
    for column in ("#", "topics", "evidence", "text"):
        table.add_column(column, overflow="fold")
    for para in result.paragraphs:
        evidence = "; ".join(f"{t}: {', '.join(terms[:4])}" for t, terms in para.evidence.items() if t in para.topics)
        table.add_row(str(para.index), ", ".join(para.topics) or "—", evidence, _clip(para.text, 40))
    return table


def _metric_table(result: AnalysisResult) -> Table:
    table = Table(title=f"metrics ({len(result.metrics)})")
    for column in ("¶", "span", "value", "unit", "qualifier", "metric", "topic", "region", "year"):
        table.add_column(column, overflow="fold")
    for m in result.metrics:
        value = f"{m.value:,.10g}"
        if m.value_low is not None and m.value_high is not None:
            value += f" ({m.value_low:,.10g}–{m.value_high:,.10g})"
        table.add_row(str(m.paragraph_index), m.span, value, m.unit, m.qualifier, m.metric, m.topic,
                      m.region, "" if m.year is None else str(m.year))
    return table


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# What a forked worker process inherits (set in the parent before the pool starts).
_PIPELINE: Pipeline | None = None
_MAX_CHARS: int | None = None
_AS_JSON = True


class Line(str):
    """A result already rendered as its JSON line (what a worker sends back: cheaper to pickle)."""


def analyze_file(path: Path, pipeline: Pipeline, max_chars: int | None) -> AnalysisResult | str:
    """The analysis of one file, or the one-line reason it has none."""
    try:
        text = read_article(path, max_chars)
        # Same doc_id, title and date as `newsetl produce` gives the file, so both paths agree.
        doc = document_from_text(text, path)
        analysis = pipeline.analyze(text, title=doc.title, published_at=doc.published_at,
                                    source_region=doc.source_region)
    except (InputError, TooManyFigures) as exc:
        return str(exc)
    return to_analysis_result(analysis, doc_id=doc.doc_id)


def _analyze_in_worker(path: Path) -> AnalysisResult | str:
    assert _PIPELINE is not None
    result = analyze_file(path, _PIPELINE, _MAX_CHARS)
    return Line(to_json_line(result)) if _AS_JSON and isinstance(result, AnalysisResult) else result


def _results(paths: list[Path], pipeline: Pipeline, max_chars: int | None,
             jobs: int, as_json: bool) -> Iterator[AnalysisResult | str]:
    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            yield analyze_file(path, pipeline, max_chars)
        return
    global _PIPELINE, _MAX_CHARS, _AS_JSON  # noqa: PLW0603 - read by the forked workers
    _PIPELINE, _MAX_CHARS, _AS_JSON = pipeline, max_chars, as_json
    # fork: the workers share the parent's loaded pipeline (dictionaries, rules) instead of each
    # building its own
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_analyze_in_worker, paths, chunksize=1)


def run_analyze(paths: list[Path], fmt: Format, settings: Settings, *,
                out: TextIO | None = None, err: TextIO | None = None, jobs: int = 1) -> int:
    """Analyze ``paths``, print results to ``out`` in input order; return the exit code (0 or 1).
    ``jobs``: processes side by side (0: one per CPU)."""
    out = out or sys.stdout
    err = err or sys.stderr
    pipeline = get_pipeline(settings)
    console = Console(file=out, soft_wrap=False) if fmt == "table" else None
    failed = 0
    jobs = jobs or os.cpu_count() or 1
    results = _results(paths, pipeline, settings.max_doc_chars, jobs, console is None)
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, Line):
            out.write(result + "\n")
            out.flush()
        elif isinstance(result, str):
            failed += 1
            print(f"newsetl analyze: error: {path}: {result}", file=err, flush=True)
        elif console is None:
            out.write(to_json_line(result) + "\n")
            out.flush()
        else:
            render_table(path, result, console)
    return 1 if failed else 0

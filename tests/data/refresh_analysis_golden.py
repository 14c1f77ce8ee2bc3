"""Regenerate ``tests/data/analysis_golden.jsonl``: the pipeline's full output over a fixed corpus.

The golden pins the analysis byte for byte, so that speed work on ``streams/pipeline`` can be
checked to change nothing (``tests/unit/pipeline/test_analysis_golden.py`` recomputes it and
compares line by line). Regenerate it ONLY with this script, and only when an output change is
intended (a rules or behaviour change), never to make a failing golden test pass after an
optimization:

    .venv/bin/python tests/data/refresh_analysis_golden.py          # rewrite the golden
    .venv/bin/python tests/data/refresh_analysis_golden.py --check  # exit 1 at the first difference

The corpus, in this order (each document's name is listed by :func:`golden_documents`):

1. ``seeds/*.txt``, read like ``newsetl produce`` does (:func:`streams.ingest.articles.read_path`:
   title and publication date guessed from the text);
2. ``tests/data/devset/dNN.txt`` with the title and ``published`` date of ``dNN.meta.json``;
3. variants of the seeds, to cover the other normalization paths: converted to traditional script
   (OpenCC ``s2t``) and with full-width digits (``１２３``);
4. :data:`GENERATED` documents of :func:`streams.bench.etl.generated_documents` (title, no date).

One line per document: ``to_analysis_result(analysis).model_dump(mode="json")`` without
``pipeline_version`` (it hashes the code, which is what changes), keys sorted,
``ensure_ascii=False``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from streams.bench.etl import generated_documents  # noqa: E402
from streams.ingest.articles import read_path  # noqa: E402
from streams.pipeline.analyzer import Pipeline  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stream.analysis import build_pipeline  # noqa: E402
from streams.stream.convert import to_analysis_result  # noqa: E402

GOLDEN = REPO / "tests" / "data" / "analysis_golden.jsonl"
SEEDS = REPO / "seeds"
DEVSET = REPO / "tests" / "data" / "devset"
GENERATED = 40
_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True, slots=True)
class GoldenDoc:
    name: str
    text: str
    title: str | None
    published_at: datetime.datetime | None


def _seeds() -> list[GoldenDoc]:
    docs: list[GoldenDoc] = []
    max_chars = Settings().max_doc_chars
    for path in sorted(SEEDS.glob("*.txt")):
        for loaded in read_path(path, max_chars):
            if loaded.document is None:
                raise ValueError(f"{path}: {loaded.error}")
            doc = loaded.document
            docs.append(GoldenDoc(f"seeds/{path.name}", doc.text, doc.title, doc.published_at))
    return docs


def _devset() -> list[GoldenDoc]:
    docs: list[GoldenDoc] = []
    for path in sorted(DEVSET.glob("d*.txt")):
        meta = json.loads((DEVSET / f"{path.stem}.meta.json").read_text(encoding="utf-8"))
        published = datetime.datetime.fromisoformat(meta["published"]) if meta.get("published") else None
        docs.append(GoldenDoc(f"devset/{path.name}", path.read_text(encoding="utf-8"), meta.get("title"), published))
    return docs


def _variants(seeds: list[GoldenDoc]) -> list[GoldenDoc]:
    import opencc

    s2t = opencc.OpenCC("s2t")
    out = [GoldenDoc(f"{d.name}#s2t", s2t.convert(d.text), d.title, d.published_at) for d in seeds]
    out += [GoldenDoc(f"{d.name}#fullwidth", d.text.translate(_FULLWIDTH_DIGITS), d.title, d.published_at)
            for d in seeds]
    return out


def _generated() -> list[GoldenDoc]:
    return [GoldenDoc(f"generated/{d['doc_id']}", d["text"], d.get("title"), None)
            for d in generated_documents(GENERATED)]


def golden_documents() -> list[GoldenDoc]:
    """The corpus of the golden, in the golden's line order."""
    seeds = _seeds()
    return seeds + _devset() + _variants(seeds) + _generated()


def golden_line(pipeline: Pipeline, doc: GoldenDoc) -> str:
    """The golden line of one document (no trailing newline)."""
    analysis = pipeline.analyze(doc.text, title=doc.title, published_at=doc.published_at)
    data = to_analysis_result(analysis).model_dump(mode="json")
    data.pop("pipeline_version", None)
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def golden_lines(pipeline: Pipeline | None = None) -> Iterator[tuple[GoldenDoc, str]]:
    pipeline = pipeline or build_pipeline()
    for doc in golden_documents():
        yield doc, golden_line(pipeline, doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the golden instead of rewriting it")
    args = parser.parse_args()
    computed = list(golden_lines())
    if args.check:
        stored = GOLDEN.read_text(encoding="utf-8").splitlines()
        if len(stored) != len(computed):
            print(f"{len(stored)} golden lines, {len(computed)} computed")
            return 1
        for (doc, line), old in zip(computed, stored, strict=True):
            if line != old:
                print(f"differs: {doc.name}")
                return 1
        print(f"{len(computed)} documents equal to the golden")
        return 0
    GOLDEN.write_text("".join(line + "\n" for _, line in computed), encoding="utf-8")
    print(f"wrote {len(computed)} documents to {GOLDEN.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

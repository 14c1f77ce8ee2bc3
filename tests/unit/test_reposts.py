"""The repost generator (tests/support/reposts.py): a sensible, deterministic near-duplicate corpus.

Runs the real pipeline over every variant: the figures a variant shows must be the original's
(a sub-multiset after a trim; the changed ones replaced after an update). A tiny Jaccard
baseline over character 4-grams prints how near the variants are (run with ``-s`` to see it).
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import opencc
import pytest

from schemas.models import RawDocument
from streams.pipeline.analyzer import Pipeline
from streams.settings import Settings
from streams.stream.analysis import get_pipeline
from support.reposts import (
    KINDS,
    MAX_DELAY,
    TRIM_SHARE,
    Variant,
    _punct,
    _swap_width,
    figures,
    generate,
    groups_of,
    has_number,
    originals,
    pair_scores,
    true_pairs,
)

REPO = Path(__file__).resolve().parents[2]


@cache
def _pipeline() -> Pipeline:
    return get_pipeline(Settings())


@cache
def _corpus() -> tuple[tuple[RawDocument, ...], tuple[Variant, ...]]:
    docs = originals(REPO)
    return tuple(docs), tuple(generate(docs, pipeline=_pipeline()))


def test_originals_are_the_21_articles_with_title_and_date():
    docs, _ = _corpus()
    assert [d.doc_id for d in docs] == [f"seed-{n:03d}" for n in range(5)] + [f"d{n:02d}" for n in range(1, 17)]
    assert all(d.published_at is not None for d in docs)
    assert sum(d.title is not None for d in docs) >= 19  # seeds 000 and 004 carry no headline


def test_same_seed_same_corpus_and_another_seed_another():
    docs, variants = _corpus()
    again = generate(list(docs), pipeline=_pipeline())
    assert [(v.doc.model_dump(), v.group, v.kinds, v.changes, v.added_lines) for v in again] == [
        (v.doc.model_dump(), v.group, v.kinds, v.changes, v.added_lines) for v in variants
    ]
    other = generate(list(docs[:3]), per_original=4, seed=7, pipeline=_pipeline())
    assert [v.doc.text for v in other] != [v.doc.text for v in variants[:12]]


def test_corpus_size_kinds_ids_and_dates():
    docs, variants = _corpus()
    by_id = {d.doc_id: d for d in docs}
    assert len(variants) >= 200 and {v.group for v in variants} == set(by_id)
    ids = [v.doc.doc_id for v in variants]
    assert len(set(ids)) == len(ids) and not set(ids) & set(by_id)
    counts = Counter(k for v in variants for k in v.kinds)
    print("\nkinds:", dict(sorted(counts.items(), key=lambda kv: KINDS.index(kv[0]))),
          "| kinds per variant:", dict(sorted(Counter(len(v.kinds) for v in variants).items())))
    assert set(counts) == set(KINDS) and min(counts.values()) >= 20
    assert sum(len(v.kinds) >= 2 for v in variants) >= len(variants) / 2
    updates = sum("update" in v.kinds for v in variants)
    assert 0.10 <= updates / len(variants) <= 0.22
    for v in variants:
        original = by_id[v.group]
        assert v.kinds and list(v.kinds) == sorted(v.kinds, key=KINDS.index)
        assert original.published_at <= v.doc.published_at <= original.published_at + MAX_DELAY
        assert not ("update" in v.kinds and "trim" in v.kinds)
        assert bool(v.changes) == ("update" in v.kinds) and len(v.changes) in (0, 2, 3)
        if "retitle" in v.kinds:
            assert v.doc.title and v.doc.title != original.title


def test_no_variant_equals_its_original_or_another():
    docs, variants = _corpus()
    texts = [d.text for d in docs] + [v.doc.text for v in variants]
    assert len(set(texts)) == len(texts)


def test_added_lines_hold_no_digit_and_no_number_word():
    _, variants = _corpus()
    added = [line for v in variants for line in v.added_lines]
    assert sum("lead" in v.kinds for v in variants) <= len(added)
    assert added and not [line for line in added if has_number(line)]
    for v in variants:  # each added line is in the text (converted when the variant is traditional)
        text = opencc.OpenCC("t2s").convert(v.doc.text) if "traditional" in v.kinds else v.doc.text
        flat = re.sub(r"\s", "", text)
        for line in v.added_lines:
            assert re.sub(r"[\s，,：:（）()；;！!]", "", line)[:6] in re.sub(r"[，,：:（）()；;！!]", "", flat)
    assert has_number("共3户") and has_number("两万") and has_number("１") and not has_number("编者按：乡村振兴")


def test_trim_drops_whole_paragraphs_and_at_most_30_percent():
    docs, variants = _corpus()
    by_id = {d.doc_id: d for d in docs}
    checked = 0
    for v in variants:
        if "trim" not in v.kinds or {"punct", "traditional"} & set(v.kinds):
            continue
        original = by_id[v.group].text
        blocks = [b for b in re.split(r"\n\s*\n", original.strip()) if b.strip()] if "\n\n" in original.strip() \
            else original.strip().split("\n")
        missing = [b for b in blocks if b.strip() not in v.doc.text]
        assert missing and sum(len(b) for b in missing) <= TRIM_SHARE * len(original) + 2 * len(missing)
        assert not (blocks[-1] in missing and blocks[1] in missing)
        checked += 1
    assert checked >= 10


def test_every_variant_keeps_the_figures_of_what_it_keeps():
    """The pipeline reads the same (value, unit) multiset from a variant as from its original:
    a sub-multiset after a trim, the changed figures replaced after an update."""
    docs, variants = _corpus()
    pipeline = _pipeline()
    start = time.perf_counter()
    analyses = {d.doc_id: pipeline.analyze(d.text, title=d.title, published_at=d.published_at) for d in docs}
    failures: list[str] = []
    for v in variants:
        analysis = pipeline.analyze(v.doc.text, title=v.doc.title, published_at=v.doc.published_at)
        got, want = figures(analysis), figures(analyses[v.group])
        for change in v.changes:
            (old,) = [m for m in analyses[v.group].metrics if m.span == change.old_span]
            hits = [m for m in analysis.metrics if m.span == change.new_span]
            if [(m.value, m.unit) for m in hits] != [(change.value, change.unit)]:
                failures.append(f"{v.doc.doc_id} {v.kinds}: {change} read as {[(m.value, m.unit) for m in hits]}")
            want[(round(old.value, 6), old.unit)] -= 1
            want[(round(change.value, 6), change.unit)] += 1
        want = +want
        ok = not (got - want) if "trim" in v.kinds else got == want
        if not ok:
            failures.append(f"{v.doc.doc_id} {v.kinds}: extra {dict(got - want)} missing {dict(want - got)}")
    elapsed = time.perf_counter() - start
    print(f"\nfigure check: {len(docs) + len(variants)} documents analyzed in {elapsed:.1f} s")
    assert not failures, "\n".join(failures)
    assert elapsed < 60


def test_punctuation_changes_never_touch_a_number():
    # The pipeline reads "1，200个" (ASCII digits, full-width comma) as 200个, and "工作.109个村"
    # (ASCII stop before a number) as nothing: a comma or colon next to a digit is never swapped,
    # and 。 never becomes ".".
    text = "全县1,200户，增长3.5%；十一、其他（2020年）：11:25发布。"
    assert _swap_width(text, to_half=False) == "全县1,200户，增长3.5%；十一、其他（2020年）：11:25发布。"
    assert _swap_width(text, to_half=True) == "全县1,200户,增长3.5%；十一、其他（2020年)：11:25发布。"
    for seed in range(30):
        changed = _punct(random.Random(seed), "标题\n\n全县1,200户，增长3.5%。共1，8万人。\n\n其他（2020年）。\n")
        assert re.findall(r"\d[\d.,，]*\d", changed) == ["1,200", "3.5", "1，8", "2020"]


def test_pair_scores_on_a_hand_made_example():
    truth = {"a": "a", "a1": "a", "a2": "a", "b": "b", "b1": "b", "c": "c"}
    assert true_pairs(truth) == {frozenset(p) for p in (("a", "a1"), ("a", "a2"), ("a1", "a2"), ("b", "b1"))}
    # a/a1 together, a2 wrongly with b and b1; c missing (a singleton)
    predicted = {"a": "x", "a1": "x", "a2": "y", "b": "y", "b1": "y"}
    precision, recall = pair_scores(truth, predicted)
    # predicted pairs: a-a1 (true), a2-b, a2-b1 (false), b-b1 (true) → 2/4; true pairs found 2 of 4
    assert (precision, recall) == (0.5, 0.5)
    assert pair_scores(truth, truth) == (1.0, 1.0)
    assert pair_scores(truth, {}) == (1.0, 0.0)
    assert pair_scores({"a": "a"}, {"a": "z"}) == (1.0, 1.0)
    everything = pair_scores(truth, dict.fromkeys(truth, "all"))
    assert everything == (pytest.approx(4 / 15), 1.0)


# --- a tiny near-duplicate baseline: is the corpus sensible? ---------------------------------

_T2S = opencc.OpenCC("t2s")


def _shingles(text: str, k: int = 4) -> set[str]:
    folded = unicodedata.normalize("NFKC", _T2S.convert(text))
    chars = "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZ")
    return {chars[i:i + k] for i in range(max(1, len(chars) - k + 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def test_jaccard_baseline_separates_variants_from_other_originals():
    docs, variants = _corpus()
    shingles = {d.doc_id: _shingles(d.text) for d in docs}
    per_kind: dict[str, float] = {}
    alone: dict[str, float] = {}  # variants made by that kind only
    lowest = 1.0
    for v in variants:
        score = _jaccard(_shingles(v.doc.text), shingles[v.group])
        lowest = min(lowest, score)
        for kind in v.kinds:
            per_kind[kind] = min(per_kind.get(kind, 1.0), score)
        if len(v.kinds) == 1:
            alone[v.kinds[0]] = min(alone.get(v.kinds[0], 1.0), score)
    across = max(_jaccard(shingles[a.doc_id], shingles[b.doc_id])
                 for i, a in enumerate(docs) for b in docs[i + 1:])
    print("\nmin Jaccard(variant, original) per kind:",
          {k: round(per_kind[k], 3) for k in KINDS}, f"| overall min {lowest:.3f}")
    print("  … variants of that kind alone:", {k: round(alone[k], 3) for k in KINDS if k in alone})
    print(f"max Jaccard between two different originals: {across:.3f}")
    assert lowest > across + 0.3

    # clustering at a threshold halfway between gives perfect pair scores
    threshold = (lowest + across) / 2
    all_docs = [*docs, *(v.doc for v in variants)]
    predicted: dict[str, str] = {}
    for doc in all_docs:
        own = _shingles(doc.text)
        best = max(docs, key=lambda d: _jaccard(own, shingles[d.doc_id]))
        predicted[doc.doc_id] = best.doc_id if _jaccard(own, shingles[best.doc_id]) >= threshold else doc.doc_id
    assert pair_scores(groups_of(docs, variants), predicted) == (1.0, 1.0)

"""Count each fact once, against the real broker and engine (issue 13's evaluation).

The repost corpus (:mod:`support.reposts`: the 21 originals — seeds and devset — and 200+
retitled, trimmed, reordered, re-led, re-punctuated, traditional-script and updated variants with
known groups) goes to ``news.raw`` and through ``newsetl replay --source raw`` (the real pipeline
and sink) into ClickHouse, in shuffled order; the originals alone go into a second database. The
views ``document_groups``, ``facts_latest`` and ``flagged_metrics`` (schemas/clickhouse/008) are
then measured: near-duplicate pair precision/recall, fact totals against the originals', flags.
A second replay from raw must rebuild groups, facts and flags identically.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.models import RawDocument
from streams.settings import Settings
from streams.store.clickhouse import make_client
from streams.stream.analysis import build_pipeline
from streams.stream.replay import replay
from support.reposts import Variant, generate, groups_of, originals, pair_scores
from tests.integration.etl_helpers import REPO, isolated, send_raw

GROUPS_SQL = "SELECT doc_id, duplicate_of, group_id, round(similarity, 6) FROM document_groups ORDER BY doc_id"
FACTS_SQL = """
SELECT fact_id, region_code, ref_year, metric, unit, value, subject, topic, mentions, documents,
       first_published, last_published, sentence, doc_id, flags
FROM facts_latest ORDER BY fact_id
"""
FLAGS_SQL = "SELECT doc_id, char_start, flag, fact_id, explanation FROM flagged_metrics ORDER BY doc_id, char_start, flag"


@dataclass(frozen=True)
class Corpus:
    originals: list[RawDocument]
    variants: list[Variant]
    orig_settings: Settings
    all_settings: Settings


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        return [tuple(row) for row in client.query(sql).result_rows]
    finally:
        client.close()


def load(settings: Settings, docs: list[RawDocument]) -> None:
    """``docs`` into news.raw, then a replay from raw: the pipeline and the sink write them."""
    send_raw(settings, [(doc.doc_id.encode(), doc.model_dump_json().encode()) for doc in docs])
    summary = replay(settings, "raw", "earliest")
    assert summary.written == summary.read == len(docs)


@pytest.fixture(scope="module")
def corpus(stack: Settings) -> Iterator[Corpus]:
    pipeline = build_pipeline()
    firsts = originals(REPO)
    variants = generate(firsts, pipeline=pipeline)
    everything = firsts + [v.doc for v in variants]
    random.Random(13).shuffle(everything)  # the groups must not depend on the order of arrival
    built = Corpus(firsts, variants, isolated(stack, "facts_orig"), isolated(stack, "facts_all"))
    load(built.orig_settings, firsts)
    load(built.all_settings, everything)
    yield built
    for settings in (built.orig_settings, built.all_settings):
        client = make_client(settings)
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.close()


def test_near_duplicate_pairs(corpus: Corpus) -> None:
    truth = groups_of(corpus.originals, corpus.variants)
    found = {doc_id: group for doc_id, _, group, _ in rows(corpus.all_settings, GROUPS_SQL)}
    assert set(found) == set(truth)
    precision, recall = pair_scores(truth, found)
    linked = sum(1 for _, duplicate_of, _, _ in rows(corpus.all_settings, GROUPS_SQL) if duplicate_of)
    print(f"\nnear-duplicates: {len(truth)} documents ({len(corpus.variants)} variants of "
          f"{len(corpus.originals)} originals), {linked} linked; pair precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98
    assert recall >= 0.95
    # the earliest document of each group is an original (variants are published after it)
    roots = {group for _, _, group, _ in rows(corpus.all_settings, GROUPS_SQL)}
    assert roots == {doc.doc_id for doc in corpus.originals}


def fact_totals(settings: Settings) -> dict[tuple[str, str], tuple[int, float]]:
    sql = "SELECT metric, unit, count(), sum(value) FROM facts_latest GROUP BY metric, unit"
    return {(metric, unit): (count, total) for metric, unit, count, total in rows(settings, sql)}


def test_fact_totals_over_reposts_equal_the_originals_plus_the_updates(corpus: Corpus) -> None:
    alone, reposted = fact_totals(corpus.orig_settings), fact_totals(corpus.all_settings)
    # every changed figure is one new fact with its new value (a change repeated by two updates once)
    changes = {(v.group, c.new_span, c.value, c.unit) for v in corpus.variants for c in v.changes}
    new_by_unit: dict[str, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for _, _, value, unit in changes:
        count, total = new_by_unit[unit]
        new_by_unit[unit] = (count + 1, total + value)

    def by_unit(totals: dict[tuple[str, str], tuple[int, float]]) -> dict[str, tuple[int, float]]:
        merged: dict[str, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
        for (_, unit), (count, total) in totals.items():
            merged[unit] = (merged[unit][0] + count, merged[unit][1] + total)
        return merged

    alone_units, reposted_units = by_unit(alone), by_unit(reposted)
    facts_alone = sum(count for count, _ in alone.values())
    facts_all = sum(count for count, _ in reposted.values())
    mentions = rows(corpus.all_settings, "SELECT sum(mentions), count() FROM facts_latest")[0]
    print(f"\nfacts: originals {facts_alone}, with {len(corpus.variants)} reposts {facts_all} "
          f"(+{facts_all - facts_alone}; changed figures of updates: {len(changes)}); "
          f"mentions {mentions[0]} over {mentions[1]} facts")
    for unit in sorted(set(alone_units) | set(reposted_units) | set(new_by_unit)):
        expected = (alone_units[unit][0] + new_by_unit[unit][0], alone_units[unit][1] + new_by_unit[unit][1])
        got = reposted_units[unit]
        assert got[0] == expected[0], (unit, got, expected)
        assert got[1] == pytest.approx(expected[1], rel=1e-9), (unit, got, expected)
    assert facts_all - facts_alone == len(changes)


def test_a_repost_adds_mentions_not_facts(corpus: Corpus) -> None:
    sql = "SELECT count(), countIf(documents > 1), max(documents) FROM facts_latest"
    facts, repeated, most = rows(corpus.all_settings, sql)[0]
    assert repeated > facts // 2
    assert most >= 6
    # a fact's first mention is in the original (its sentence and document), unless two updates
    # changed a figure to the same new value
    firsts = {doc.doc_id for doc in corpus.originals}
    changed = {(v.doc.doc_id, c.value) for v in corpus.variants for c in v.changes}
    sql = "SELECT doc_id, value, first_published, last_published FROM facts_latest WHERE documents > 1"
    for doc_id, value, first, last in rows(corpus.all_settings, sql):
        assert doc_id in firsts or (doc_id, value) in changed
        assert first < last


def test_the_originals_carry_no_flag(corpus: Corpus) -> None:
    """The seeds and the devset hold no inconsistent figure: every flag there would be false."""
    assert rows(corpus.orig_settings, FLAGS_SQL) == []


@pytest.mark.timeout(300)
def test_a_second_replay_from_raw_rebuilds_groups_facts_and_flags_identically(corpus: Corpus) -> None:
    settings = corpus.all_settings
    before = [rows(settings, sql) for sql in (GROUPS_SQL, FACTS_SQL, FLAGS_SQL)]
    runs = rows(settings, "SELECT uniqExact(processed_at) FROM documents")[0][0]
    summary = replay(settings, "raw", "earliest")
    assert summary.written == summary.read == len(corpus.originals) + len(corpus.variants)
    assert rows(settings, "SELECT uniqExact(processed_at) FROM documents")[0][0] > runs
    after = [rows(settings, sql) for sql in (GROUPS_SQL, FACTS_SQL, FLAGS_SQL)]
    assert after == before


# --- corpus-level consistency rules, on fresh articles ----------------------------------------------
FRESH = [
    ("exit", "留坝县：脱贫摘帽后持续巩固成果",
     "2019年，陕西省留坝县正式脱贫摘帽。据县扶贫办统计，2019年底全县贫困发生率降至0.52%，群众满意度明显提升。\n"
     "县里把产业作为巩固成果的关键，香菇、土蜂蜜等特色产业覆盖全县各村。", datetime(2020, 3, 2, tzinfo=UTC)),
    ("rise", "留坝县召开防返贫监测工作会",
     "会议通报，2021年留坝县贫困发生率为1.3%，个别村出现返贫风险。\n"
     "会议要求各镇落实动态监测帮扶机制，做到早发现、早干预、早帮扶。", datetime(2022, 1, 20, tzinfo=UTC)),
    ("drop", "留坝县巩固衔接工作综述",
     "留坝县持续做好巩固拓展工作，2020年留坝县贫困发生率为0.31%。\n"
     "全县易地搬迁安置点配套建设了社区工厂和便民服务中心。", datetime(2021, 1, 8, tzinfo=UTC)),
    ("inc1", "留坝县农民收入稳步增长",
     "2021年，留坝县农村居民人均可支配收入12860元，比上年增长10.2%。\n"
     "全县培育新型经营主体，带动农户发展中药材种植。", datetime(2022, 2, 1, tzinfo=UTC)),
    ("inc2", "留坝县发布2021年国民经济统计公报",
     "公报显示，2021年留坝县农村居民人均可支配收入13020元。\n"
     "全年接待游客人次和旅游综合收入均创历史新高。", datetime(2022, 3, 15, tzinfo=UTC)),
    ("inc3", "留坝县乡村振兴工作取得新进展",
     "留坝县紧盯增收目标，2021年留坝县农村居民人均可支配收入136800元。\n"
     "各镇村因地制宜发展林下经济，集体经济不断壮大。", datetime(2022, 4, 9, tzinfo=UTC)),
]


@pytest.fixture(scope="module")
def fresh(stack: Settings) -> Iterator[Settings]:
    settings = isolated(stack, "facts_flags")
    load(settings, [RawDocument(doc_id=doc_id, source="test", title=title, text=text, published_at=published)
                    for doc_id, title, text, published in FRESH])
    yield settings
    client = make_client(settings)
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.close()


def flagged(settings: Settings) -> dict[tuple[str, float], list[str]]:
    sql = "SELECT doc_id, value, groupArray(flag) FROM flagged_metrics GROUP BY doc_id, value"
    return {(doc_id, value): sorted(flags) for doc_id, value, flags in rows(settings, sql)}


def test_a_poverty_rate_rising_after_the_exit_is_flagged(fresh: Settings) -> None:
    found = flagged(fresh)
    assert found[("rise", 1.3)] == ["poverty_rate_after_exit"]
    # the exit year's own rate, a lower later one and the growth rate are consistent
    assert ("exit", 0.52) not in found and ("drop", 0.31) not in found and ("inc1", 10.2) not in found


def test_a_value_ten_times_off_the_median_is_flagged(fresh: Settings) -> None:
    found = flagged(fresh)
    assert found[("inc3", 136800.0)] == ["median_outlier"]
    assert ("inc1", 12860.0) not in found and ("inc2", 13020.0) not in found


def test_flags_carry_their_rule_explanation(fresh: Settings) -> None:
    explanations = dict(rows(fresh, "SELECT flag, any(explanation) FROM flagged_metrics GROUP BY flag"))
    assert set(explanations) == {"median_outlier", "poverty_rate_after_exit"}
    assert all(explanations.values())
    facts = rows(fresh, "SELECT value, flags FROM facts_latest WHERE length(flags) > 0 ORDER BY value")
    assert facts == [(1.3, ["poverty_rate_after_exit"]), (136800.0, ["median_outlier"])]

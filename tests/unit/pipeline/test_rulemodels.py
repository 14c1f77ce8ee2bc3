"""The rules files as validated models: every mistake is one line naming the file and the key."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.pipeline.analyzer import Pipeline
from streams.pipeline.classify import parse_topic_rules
from streams.pipeline.flags import parse_flag_rules
from streams.pipeline.lexicon import lexicon_from_dict
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.pipeline.rulemodels import RulesError

METRICS = json.loads((DEFAULT_RULES_DIR / "metrics.json").read_text(encoding="utf-8"))
TOPICS = json.loads((DEFAULT_RULES_DIR / "topics.json").read_text(encoding="utf-8"))
FLAGS = json.loads((DEFAULT_RULES_DIR / "flags.json").read_text(encoding="utf-8"))
PARSERS = {"metrics": (METRICS, lexicon_from_dict), "topics": (TOPICS, parse_topic_rules),
           "flags": (FLAGS, parse_flag_rules)}


def test_the_shipped_rules_are_valid():
    lexicon_from_dict(copy.deepcopy(METRICS))
    parse_topic_rules(copy.deepcopy(TOPICS))
    parse_flag_rules(copy.deepcopy(FLAGS))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(qualifers_after={}), "metrics.json: qualifers_after: unknown key (misspelt?)"),
        (lambda d: d["topic_rules"][1].update(topic="就业 "), "metrics.json: topic_rules.1.topic: Input should be"),
        (lambda d: d["metric_rules"][0].update(keyword=["增长"]), "metrics.json: metric_rules.0.keyword: unknown key"),
        (lambda d: d["metric_rules"][0].update(left_regex="(增长"), "metrics.json: metric_rules.0.left_regex: not a regular"),
        (lambda d: d["metric_rules"][0].update(units=["斤"]), "metrics.json: metric_rules.0.units: '斤' is no base unit"),
        (lambda d: d["qualifiers_after"].update(左右="about"), "metrics.json: qualifiers_after.左右: Input should be"),
        (lambda d: d.pop("units"), "metrics.json: units: Field required"),
        (lambda d: d["terms"].update(扶贫={"扶贫": 1.0}), "topics.json: terms.扶贫.[key]: Input should be"),
        (lambda d: d["thresholds"].update(min_scor=3.0), "topics.json: thresholds.min_scor: unknown key"),
        (lambda d: d["terms"]["就业"].update({"": 1.0}), "topics.json: terms.就业..[key]: String should have at least 1"),
        (lambda d: d["neutral"].append(""), f"topics.json: neutral.{len(TOPICS.get('neutral', []))}: String should have at least 1"),
        (lambda d: d["heading"]["cues"]["教育"].append(""), "topics.json: heading.cues.教育."),
        (lambda d: d["metric_rules"][0].update(keywords=["增长", ""]),
         "metrics.json: metric_rules.0.keywords.1: String should have at least 1"),
        (lambda d: d["heading"]["inline"].append("[未闭合"), "topics.json: heading.inline: not a regular"),
        (lambda d: d["rules"][1]["params"].update(cue_word=["其中"]),
         "flags.json: rules.1.part_above_total.params.cue_word: unknown key (misspelt?)"),
        (lambda d: d["rules"][0].update(explaination="比率超过100%"),
         "flags.json: rules.0.rate_above_100.explaination: unknown key (misspelt?)"),
        (lambda d: d["rules"][0].update(scope="sentence"),
         "flags.json: rules.0.rate_above_100.scope: Input should be 'row', 'document' or 'corpus'"),
        (lambda d: d["rules"][4].update(scope="row"),
         "flags.json: rules.4.scope: 'median_outlier' is evaluated in ClickHouse only (corpus)"),
        (lambda d: d["rules"].append(copy.deepcopy(d["rules"][2])),
         "flags.json: rules.6.id: 'households_above_people' is listed twice"),
        (lambda d: d["rules"][3].update(id="per_capita_over_total"), "flags.json: rules.3: Input tag"),
        (lambda d: d["rules"][2]["params"].pop("approx_factor"),
         "flags.json: rules.2.households_above_people.params.approx_factor: Field required"),
    ],
)
def test_a_wrong_rules_file_is_one_line_naming_file_and_key(change, message):
    shipped, parse = PARSERS[message.partition(".")[0]]
    data = copy.deepcopy(shipped)
    change(data)
    with pytest.raises(RulesError) as err:
        parse(data)
    assert str(err.value).startswith("rules file " + message), str(err.value)
    assert "\n" not in str(err.value)


def test_a_rules_dir_with_a_broken_file_fails_the_pipeline(tmp_path: Path):
    (tmp_path / "topics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RulesError, match=r"^rules file topics.json: not valid JSON"):
        Pipeline(rules_dir=tmp_path, code_version="test")


def test_a_rules_dir_with_a_misspelt_flags_file_fails_the_pipeline(tmp_path: Path):
    data = copy.deepcopy(FLAGS)
    data["rules"][0]["params"]["growth_word"] = data["rules"][0]["params"].pop("growth_words")
    (tmp_path / "flags.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(RulesError) as err:
        Pipeline(rules_dir=tmp_path, code_version="test")
    assert str(err.value) == "rules file flags.json: rules.0.rate_above_100.params.growth_word: unknown key (misspelt?)"


def test_newsetl_analyze_reports_a_misspelt_key_in_one_line(tmp_path: Path):
    data = copy.deepcopy(METRICS)
    data["metric_rules"][0]["unit"] = data["metric_rules"][0].pop("units")
    (tmp_path / "metrics.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    article = tmp_path / "a.txt"
    article.write_text("全县脱贫1200户。", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "streams.cli", "analyze", str(article)], capture_output=True,
                          text=True, env={"NEWSETL_RULES_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: rules file metrics.json: metric_rules.0.unit: unknown key (misspelt?)"
    ]

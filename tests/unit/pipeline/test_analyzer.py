"""The chain's seams: regions found once, figures and their evidence, rules files, version, purity."""

from __future__ import annotations

import ast
import dataclasses
import json
import sys
from pathlib import Path

import pytest

import streams.pipeline
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.figures import find_figures, topics_by_paragraph
from streams.pipeline.lexicon import load_metric_lexicon
from streams.pipeline.normalize import normalize
from streams.pipeline.regions import DocumentRegions, city_of, document_regions, province_of
from streams.pipeline.rulefiles import DEFAULT_RULES_DIR, code_hash, rules_files, rules_hash
from streams.pipeline.types import Analysis, Metric

PACKAGE = Path(streams.pipeline.__file__).parent
# What the pipeline may import besides the standard library and itself: its declared dependencies.
DEPENDENCIES = {"jieba", "rjieba", "opencc", "pydantic", "datasketch", "ahocorasick_rs", "numpy"}  # pydantic: the rules files as models


def test_document_regions_scans_the_text_once_and_falls_back_to_the_title():
    assert document_regions("陕西省安康市平溪县退出贫困县序列。安康市新建公路12公里。") == DocumentRegions(
        mentions=[(0, ("610000",)), (3, ("610900",)), (17, ("610900",))], names=["陕西省安康市"], main="陕西省安康市",
    )
    assert document_regions("河南省鹤壁市淇县，河南省鹤壁市浚县。") == DocumentRegions(
        mentions=[(0, ("410000",)), (3, ("410600",)), (6, ("410622",)), (9, ("410000",)), (12, ("410600",)),
                  (15, ("410621",))],
        names=["河南省鹤壁市淇县", "河南省鹤壁市浚县"], main="河南省鹤壁市",
    )
    assert document_regions("新建公路12公里。", "重庆市") == DocumentRegions(mentions=[], names=["重庆市"], main="重庆市")
    assert document_regions("淇县新建公路。", "重庆市").names == ["河南省鹤壁市淇县"]
    assert document_regions("", None) == DocumentRegions(mentions=[], names=[], main="")


def test_city_and_province_of_a_full_name():
    assert (city_of("河南省鹤壁市淇县"), province_of("河南省鹤壁市淇县")) == ("河南省鹤壁市", "河南省")
    assert (city_of("河南省"), city_of("火星"), province_of("火星")) == ("", "", "")


def test_figures_carry_their_clause_evidence_per_paragraph():
    doc = normalize("全县开发乡村公益性岗位5,120个。\n\n茶产业综合产值8.7亿元，同比增长14.3%。")
    found = find_figures(doc, load_metric_lexicon())
    assert [(g.sentence.paragraph_index, [(g.span(f), f.value, f.unit, f.left, f.metric, f.topic) for f in g.figures])
            for g in found] == [
        (0, [("5,120个", 5120, "个", "全县开发乡村公益性岗位", "jobs_created", "就业")]),
        (1, [("8.7亿元", 870_000_000, "元", "茶产业综合产值", "output", "产业"),
             ("14.3%", 14.3, "%", "同比增长", "growth_rate", "产业")]),
    ]  # fmt: skip
    assert topics_by_paragraph(doc.paragraphs, found) == [
        [("5,120个", "就业")], [("8.7亿元", "产业"), ("14.3%", "产业")],
    ]  # fmt: skip


def test_analysis_is_plain_frozen_data():
    analysis = Pipeline(code_version="9.9").analyze("全县开发乡村公益性岗位5,120个。", title="淇县")
    assert isinstance(analysis, Analysis)
    assert analysis.doc.regions == ["河南省鹤壁市淇县"] and analysis.doc.title == "淇县"
    (metric,) = analysis.metrics
    assert isinstance(metric, Metric) and (metric.region, metric.subject) == ("河南省鹤壁市淇县", "开发乡村公益性岗位")
    with pytest.raises(dataclasses.FrozenInstanceError):
        metric.value = 1.0  # type: ignore[misc]


def test_shipped_rules_are_package_resources():
    files = rules_files()
    assert list(files) == ["admin_changes.json", "dict.txt", "flags.json", "metrics.json", "topics.json"]
    assert all(path == DEFAULT_RULES_DIR / name for name, path in files.items())
    assert json.loads((DEFAULT_RULES_DIR / "topics.json").read_text(encoding="utf-8"))["labels"]


def test_rules_dir_overrides_by_name_and_changes_the_version(tmp_path):
    shipped, code = rules_hash(rules_files()), code_hash()
    assert Pipeline(code_version="1.2.3").version == f"1.2.3+c{code}.r{shipped}"
    assert Pipeline(rules_dir=tmp_path, code_version="1.2.3").version == f"1.2.3+c{code}.r{shipped}"  # empty: no change
    (tmp_path / "topics.json").write_bytes((DEFAULT_RULES_DIR / "topics.json").read_bytes() + b"\n")
    (tmp_path / "notes.md").write_text("not a rules file", encoding="utf-8")
    files = rules_files(tmp_path)
    assert list(files) == ["admin_changes.json", "dict.txt", "flags.json", "metrics.json", "topics.json"] and files["topics.json"] == tmp_path / "topics.json"
    pipeline = Pipeline(rules_dir=tmp_path, code_version="1.2.3")
    assert pipeline.rules_hash == rules_hash(files) != shipped
    assert pipeline.version == f"1.2.3+c{code}.r{pipeline.rules_hash}"


def test_a_change_of_the_pipeline_code_changes_the_version(tmp_path):
    package = tmp_path / "pipeline"
    package.mkdir()
    for entry in PACKAGE.iterdir():
        if entry.name.endswith(".py"):
            (package / entry.name).write_bytes(entry.read_bytes())
    assert code_hash(package) == code_hash()
    (package / "figures.py").write_bytes((PACKAGE / "figures.py").read_bytes() + b"\n# a fix\n")
    assert code_hash(package) != code_hash()


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_pipeline_imports_only_the_standard_library_its_dependencies_and_itself():
    outside = {
        (path.name, module)
        for path in sorted(PACKAGE.glob("*.py"))
        for module in _imports(path)
        if not (module == "streams.pipeline" or module.startswith("streams.pipeline."))
        and module.partition(".")[0] not in sys.stdlib_module_names | DEPENDENCIES
    }
    assert outside == set()


def test_the_source_region_reaches_every_figure_that_names_no_place() -> None:
    pipeline = Pipeline(code_version="9.9")
    text = "全县今年开发乡村公益性岗位520个，其中马坊镇安置36人。"
    plain = pipeline.analyze(text).metrics
    hinted = pipeline.analyze(text, source_region="山西省吕梁市").metrics
    assert [m.region for m in plain] == ["", ""]
    assert [(m.span, m.region, m.region_code) for m in hinted] == [
        ("520个", "山西省吕梁市", "141100"), ("36人", "山西省吕梁市", "141100")]

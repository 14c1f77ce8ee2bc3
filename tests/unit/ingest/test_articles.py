"""Reading article files: titles, dates, stable ids, JSON/JSONL, errors."""

from datetime import UTC, datetime
from pathlib import Path

from streams.ingest.articles import expand_paths, guess_published_at, guess_title, read_path, stable_doc_id

SEEDS = Path(__file__).resolve().parents[3] / "seeds"


def test_seed_002_title_and_date():
    text = (SEEDS / "002_cd639f095b8a2337.txt").read_text(encoding="utf-8")
    assert guess_title(text) == "济源:高质量打赢抗疫脱贫战"
    assert guess_published_at(text) == datetime(2020, 5, 16, 11, 25, tzinfo=UTC)


def test_headline_only_when_it_looks_like_one():
    assert guess_title("\n\n弘扬太行精神 决胜脱贫攻坚 黎城篇\n\n正文。") == "弘扬太行精神 决胜脱贫攻坚 黎城篇"
    assert guess_title("今年,是迈上乡村振兴新征程的开局之年,也是我市决战脱贫攻\n") is None


def test_doc_id_is_stable_under_whitespace_and_width():
    assert stable_doc_id("脱贫 １２３户\n") == stable_doc_id("脱贫 123户")
    assert stable_doc_id("a") != stable_doc_id("b")


def test_read_text_file_twice_gives_same_id():
    path = SEEDS / "000_8c7769462b492d5a.txt"
    first = next(read_path(path, 1_000_000)).document
    second = next(read_path(path, 1_000_000)).document
    assert first is not None and second is not None and first.doc_id == second.doc_id


def test_jsonl_records_and_errors(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_text('{"text": "脱贫3601户", "source": "x"}\n\n{"doc_id": "k", "text": "第二篇"}\n', encoding="utf-8")
    loaded = list(read_path(good, 1000))
    assert [item.error for item in loaded] == [None, None]
    assert loaded[1].document.doc_id == "k" and loaded[1].document.source.endswith("a.jsonl")
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    errors = [item.error for item in read_path(bad, 1000)]
    assert errors[0] is None and errors[1].startswith("invalid JSON")
    binary = tmp_path / "c.txt"
    binary.write_bytes(b"\xff\xfe\xfa")
    assert next(read_path(binary, 1000)).error.startswith("not UTF-8")


def test_expand_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("x", encoding="utf-8")
    (tmp_path / "y.md").write_text("y", encoding="utf-8")
    (tmp_path / "z.bin").write_text("z", encoding="utf-8")
    found, missing = expand_paths([str(tmp_path), str(tmp_path / "nope.txt")])
    assert sorted(p.name for p in found) == ["x.txt", "y.md"]
    assert missing == [str(tmp_path / "nope.txt")]


def test_a_deeply_nested_jsonl_line_is_one_error_and_the_other_lines_still_load(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = '{"doc_id": "ok", "source": "t", "text": "全乡新建冷库3座。"}'
    path.write_text(good + "\n" + "[" * 50_000 + "]" * 50_000 + "\n" + good.replace("ok", "ok2") + "\n")
    loaded = list(read_path(path, 1000))
    assert [(item.line, item.error) for item in loaded if item.error] == [(2, "invalid JSON: nested too deeply")]
    assert [item.document.doc_id for item in loaded if item.document] == ["ok", "ok2"]

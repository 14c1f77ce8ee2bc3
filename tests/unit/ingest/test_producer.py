"""What ``newsetl produce`` would send: validation before sending, whole files skipped on error."""

import io
import sys

from streams.ingest.producer import collect
from streams.settings import Settings


def test_directory_glob_and_errors(tmp_path):
    (tmp_path / "a.txt").write_text("标题\n\n全县脱贫3601户8055人。", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "第一篇"}\n{"text": ""}\n', encoding="utf-8")  # one bad record
    (tmp_path / "c.json").write_text('[{"text": "甲"}, {"text": "乙", "doc_id": "given"}]', encoding="utf-8")
    (tmp_path / "d.txt").write_bytes(b"\xff\xfe")
    docs, skipped = collect([str(tmp_path), str(tmp_path / "nothing*.txt")], Settings())
    assert sorted(d.text for d in docs) == ["乙", "标题\n\n全县脱贫3601户8055人。", "甲"]
    assert "given" in {d.doc_id for d in docs}
    reasons = {where.rsplit("/", 1)[-1]: reason for where, reason in skipped}
    assert reasons["b.jsonl:2"].startswith("text")  # the whole file is skipped, never half-sent
    assert reasons["d.txt"].startswith("not UTF-8")
    assert reasons["nothing*.txt"] == "no such file or no matching articles"


def test_same_file_same_doc_id(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("全县脱贫3601户8055人。", encoding="utf-8")
    first, _ = collect([str(path)], Settings())
    second, _ = collect([str(path)], Settings())
    assert first[0].doc_id == second[0].doc_id


def test_stdin_jsonl_and_text(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "\xe7\x94\xb2", "source": "feed"}\n')))
    docs, skipped = collect(["-"], Settings())
    assert [(d.text, d.source) for d in docs] == [("甲", "feed")] and not skipped
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("一篇文章。".encode())))
    docs, _ = collect(["-"], Settings())
    assert docs[0].text == "一篇文章。" and docs[0].source == "stdin"


def test_text_over_the_limit_is_skipped(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("长" * 101, encoding="utf-8")
    docs, skipped = collect([str(path)], Settings(max_doc_chars=100))
    assert docs == [] and "limit is 100" in skipped[0][1]

"""``newsetl query`` output formats (the query itself is replaced: this tests the printing)."""

from __future__ import annotations

from rich.console import Console

from streams.cli import query
from streams.settings import Settings


def test_csv_has_unix_line_ends_like_clickhouse_client(monkeypatch, capsys):
    monkeypatch.setattr(query, "run_query", lambda settings, sql, write: (["topic", "n"], [("产业", 3), ("a,b", None)]))
    query.print_query(Settings(), "SELECT 1", "csv", write=False, console=Console())
    assert capsys.readouterr().out == 'topic,n\n产业,3\n"a,b",\n'


def test_json_is_one_object_per_line(monkeypatch, capsys):
    monkeypatch.setattr(query, "run_query", lambda settings, sql, write: (["k", "v"], [("x", [1, 2])]))
    query.print_query(Settings(), "SELECT 1", "json", write=False, console=Console())
    assert capsys.readouterr().out == '{"k": "x", "v": [1, 2]}\n'

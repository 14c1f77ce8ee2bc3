"""The streaming ETL end to end: produce → Faust worker → ClickHouse, against the real services."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from streams.bench.etl import generated_documents
from streams.ingest.articles import read_path
from streams.ingest.producer import produce
from streams.stream.analysis import get_pipeline
from tests.integration.conftest import free_ports
from tests.integration.etl_helpers import (
    REPO,
    isolated,
    poll,
    read_topic,
    scalar,
    send_raw,
    stable_members,
    stop_clickhouse,
    topic_size,
)

SEEDS = REPO / "seeds"


def expected_metric_counts(settings, paths: list[Path]) -> dict[str, int]:
    """What `newsetl analyze` gives for the same files, per doc_id."""
    pipeline = get_pipeline(settings)
    counts = {}
    for path in paths:
        doc = next(read_path(path, settings.max_doc_chars)).document
        result = pipeline.analyze(doc.text, title=doc.title, published_at=doc.published_at)
        counts[doc.doc_id] = len(result.metrics)
    return counts


@pytest.mark.timeout(300)
def test_seeds_land_exactly_once(stack, worker_factory):
    settings = isolated(stack, "seeds", metrics_port=free_ports(1)[0])
    worker = worker_factory(settings)
    summary = produce([str(SEEDS)], settings)
    assert summary.sent == 5 and not summary.skipped

    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 5, 180, "5 seed documents",
         on_timeout=worker.log_tail)
    expected = expected_metric_counts(settings, sorted(SEEDS.glob("*.txt")))
    client_rows = {
        doc_id: scalar(settings, "SELECT count() FROM metrics_latest WHERE doc_id = {d:String}", d=doc_id)
        for doc_id in expected
    }
    assert client_rows == expected
    assert sum(expected.values()) > 50

    first_processed = scalar(settings, "SELECT max(processed_at) FROM documents")
    metric_total = scalar(settings, "SELECT count() FROM metrics_latest")
    # The same seeds again: reprocessed, but the latest views do not grow.
    assert produce([str(SEEDS)], settings).sent == 5
    poll(lambda: scalar(settings, "SELECT countIf(processed_at > {t:DateTime64(6)}) FROM documents_latest",
                        t=first_processed) == 5, 180, "the second run of the seeds", on_timeout=worker.log_tail)
    assert scalar(settings, "SELECT count() FROM documents_latest") == 5
    assert scalar(settings, "SELECT count() FROM metrics_latest") == metric_total
    assert scalar(settings, "SELECT count() FROM paragraphs_latest") == scalar(
        settings, "SELECT sum(paragraph_count) FROM documents_latest")

    # Prometheus metrics of the worker: documents written, metrics extracted, batch latency, lag.
    def samples() -> dict[str, float]:
        url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line and not line.startswith("#")}

    exported = poll(lambda: (found := samples()) and any(k.startswith("newsetl_consumer_lag{") for k in found)
                    and found, 30, "the consumer lag gauge", on_timeout=worker.log_tail)
    assert exported["newsetl_documents_processed_total"] >= 10
    assert exported["newsetl_metrics_extracted_total"] >= 2 * metric_total
    assert exported["newsetl_sink_batch_seconds_count"] >= 1
    raw_lag = [v for k, v in exported.items() if k.startswith("newsetl_consumer_lag{") and settings.raw_topic in k]
    assert len(raw_lag) == settings.topic_partitions and sum(raw_lag) == 0


def bad_messages(max_chars: int) -> list[tuple[str, bytes | None]]:
    good = {"doc_id": "x", "source": "test", "text": "全县脱贫3601户8055人。"}

    def enc(obj: object) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    return [
        ("empty_message", b""),
        ("undecodable_bytes", b"\xff\xfe\xfd not utf-8"),
        ("invalid_json", b'{"doc_id": "x", "text": "unterminated'),
        ("not_an_object", b"[1, 2, 3]"),
        ("not_an_object", b"42"),
        ("schema_violation", enc({"doc_id": "x", "source": "test"})),
        ("schema_violation", enc({**good, "published_at": "yesterday-ish"})),
        ("schema_violation", enc({**good, "text": 12345})),
        ("schema_violation", enc({**good, "surprise": True})),
        ("empty_text", enc({**good, "text": "   \n "})),
        ("text_too_long", enc({**good, "text": "长" * (max_chars + 1)})),
        ("empty_message", None),
    ]


@pytest.mark.timeout(300)
def test_bad_messages_go_to_dlq_and_accounting_holds(stack, worker_factory):
    settings = isolated(stack, "dlq", max_doc_chars=5000)
    bad = bad_messages(settings.max_doc_chars)
    messages: list[tuple[bytes | None, bytes | None]] = []
    for i, (_, payload) in enumerate(bad):
        good = {"doc_id": f"good-{i}", "source": "test", "text": f"第{i}篇：全县{100 + i}户贫困户全部脱贫。"}
        messages.append((f"good-{i}".encode(), json.dumps(good, ensure_ascii=False).encode()))
        messages.append((f"bad-{i}".encode(), payload))
    send_raw(settings, messages)
    worker = worker_factory(settings)

    dlq = poll(lambda: (records := read_topic(settings, settings.dlq_topic)) and len(records) >= len(bad) and records,
               180, f"{len(bad)} DLQ records", on_timeout=worker.log_tail)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == len(bad), 180, "the good documents",
         on_timeout=worker.log_tail)
    by_key = {record.key.decode(): json.loads(record.value) for record in dlq}
    assert len(dlq) == len(bad)
    for i, (kind, payload) in enumerate(bad):
        record = by_key[f"bad-{i}"]
        assert record["error"] == kind, (i, record)
        assert record["topic"] == settings.raw_topic and record["offset"] is not None and record["detail"]
        if kind != "undecodable_bytes":
            assert record["payload"] == (payload or b"").decode("utf-8")
        else:
            assert record["payload_encoding"] == "base64"
    read = topic_size(settings, settings.raw_topic)
    in_clickhouse = scalar(settings, "SELECT count() FROM documents_latest")
    assert read == in_clickhouse + len(dlq) == 2 * len(bad)
    # The DLQ is also copied into ClickHouse for dashboards.
    poll(lambda: scalar(settings, "SELECT count() FROM dlq") == len(bad), 60, "dlq table rows")


def expected_for_generated(settings, docs: list[dict]) -> int:
    pipeline = get_pipeline(settings)
    return sum(len(pipeline.analyze(d["text"], title=d["title"]).metrics) for d in docs)


def send_generated(settings, docs: list[dict]) -> None:
    send_raw(settings, [(d["doc_id"].encode(), json.dumps(d, ensure_ascii=False).encode()) for d in docs])


@pytest.mark.timeout(600)
def test_sigkill_mid_stream_then_restart_loses_nothing(stack, worker_factory):
    settings = isolated(stack, "kill")
    docs = generated_documents(2000)
    expected_metrics = expected_for_generated(settings, docs)
    send_generated(settings, docs)
    worker = worker_factory(settings, "first")
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") >= 300, 240, "the first documents",
         on_timeout=worker.log_tail)
    worker.kill()
    landed_before_restart = scalar(settings, "SELECT count() FROM documents_latest")
    assert landed_before_restart < 2000, "the kill came too late to test anything"

    restarted = worker_factory(settings, "second")
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") >= 2000, 400, "2,000 documents",
         on_timeout=restarted.log_tail)
    assert scalar(settings, "SELECT count() FROM documents_latest") == 2000
    assert scalar(settings, "SELECT uniqExact(doc_id) FROM documents_latest") == 2000
    assert scalar(settings, "SELECT count() FROM metrics_latest") == expected_metrics
    assert topic_size(settings, settings.dlq_topic) == 0


@pytest.mark.timeout(600)
def test_two_workers_in_one_group_process_everything_once(stack, worker_factory):
    settings = isolated(stack, "pair")
    docs = generated_documents(2000)
    expected_metrics = expected_for_generated(settings, docs)
    first, second = worker_factory(settings, "a"), worker_factory(settings, "b")
    # both in the group before anything is sent, or the first could finish alone before the
    # second joins (on a busy machine a worker's start-up takes seconds)
    poll(lambda: stable_members(settings) == 2, 180, "both workers in the group",
         on_timeout=lambda: first.log_tail() + second.log_tail())
    send_generated(settings, docs)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") >= 2000, 400, "2,000 documents",
         on_timeout=lambda: first.log_tail() + second.log_tail())
    assert scalar(settings, "SELECT count() FROM documents_latest") == 2000
    assert scalar(settings, "SELECT count() FROM metrics_latest") == expected_metrics
    assert first.proc.poll() is None and second.proc.poll() is None
    # Both workers took part: each logged sink batches it wrote.
    assert '"batch written"' in first.log_path.read_text() and '"batch written"' in second.log_path.read_text()


@pytest.mark.timeout(400)
def test_largest_allowed_document_flows_end_to_end(stack, worker_factory, tmp_path):
    """A document at NEWSETL_MAX_DOC_CHARS (≈3 MB of UTF-8, ≈15 MB enriched) is produced, enriched
    and written like any other; one character more goes to the DLQ, payload included."""
    settings = isolated(stack, "large")
    seed = (SEEDS / "003_a4d4d189e887cb1e.txt").read_text(encoding="utf-8")
    text = (seed * (settings.max_doc_chars // len(seed) + 1))[: settings.max_doc_chars]
    big = tmp_path / "big.txt"
    big.write_text(text, encoding="utf-8")
    assert produce([str(big)], settings).sent == 1
    too_long = {"doc_id": "too-long", "source": "test", "text": text + "。"}
    send_raw(settings, [(b"too-long", json.dumps(too_long, ensure_ascii=False).encode())])
    worker = worker_factory(settings)

    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 1, 300, "the large document",
         on_timeout=worker.log_tail)
    # char_count is of the normalized text (blank lines and indents dropped)
    assert scalar(settings, "SELECT max(char_count) FROM documents_latest") >= settings.max_doc_chars * 0.95
    assert scalar(settings, "SELECT count() FROM metrics_latest") > 10_000
    dlq = poll(lambda: read_topic(settings, settings.dlq_topic), 120, "the DLQ record", on_timeout=worker.log_tail)
    record = json.loads(dlq[0].value)
    assert [m.key for m in dlq] == [b"too-long"] and record["error"] == "text_too_long"
    assert json.loads(record["payload"])["text"] == too_long["text"]


@pytest.mark.timeout(300)
def test_result_too_large_for_kafka_goes_to_dlq(stack, worker_factory):
    """An article that fits news.raw but whose enriched result exceeds max.message.bytes is not
    retried forever nor dropped: it lands in the DLQ as output_rejected, and the stream goes on."""
    settings = isolated(stack, "toolarge", max_message_bytes=150_000)
    seed = (SEEDS / "003_a4d4d189e887cb1e.txt").read_text(encoding="utf-8")
    article = {"doc_id": "wide", "source": "test", "text": (seed * 4)[:40_000]}
    after = {"doc_id": "after", "source": "test", "text": "全县脱贫3601户8055人。"}
    send_raw(settings, [(b"wide", json.dumps(article, ensure_ascii=False).encode()),
                        (b"after", json.dumps(after, ensure_ascii=False).encode())])
    worker = worker_factory(settings)
    dlq = poll(lambda: read_topic(settings, settings.dlq_topic), 180, "the DLQ record", on_timeout=worker.log_tail)
    record = json.loads(dlq[0].value)
    assert record["error"] == "output_rejected" and "MessageSizeTooLarge" in record["detail"]
    assert json.loads(record["payload"]) == article
    poll(lambda: scalar(settings, "SELECT groupArray(doc_id) FROM documents_latest") == ["after"], 120,
         "the document after it", on_timeout=worker.log_tail)


@pytest.mark.timeout(400)
def test_clickhouse_outage_is_retried_and_nothing_is_acked_early(make_stack_settings, worker_factory):
    """ClickHouse goes away while documents stream in: the sink retries (transient errors), acks
    nothing it did not write, and every document lands once ClickHouse is back."""
    from streams.local import services

    own = make_stack_settings()
    services.up(own)
    settings = isolated(own, "outage")
    worker = worker_factory(settings)
    send_generated(settings, generated_documents(20))
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 20, 180, "the first 20",
         on_timeout=worker.log_tail)

    stop_clickhouse(own)
    send_generated(settings, generated_documents(200, start=20))
    # Enrichment goes on without ClickHouse; the sink holds its batch and keeps retrying.
    poll(lambda: topic_size(settings, settings.enriched_topic) >= 220, 180, "the enriched documents",
         on_timeout=worker.log_tail)
    assert worker.proc.poll() is None

    services.up(own)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 220, 240, "all 220 documents",
         on_timeout=worker.log_tail)
    assert "clickhouse transient error, retrying" in worker.log_tail(200_000)
    assert topic_size(settings, settings.dlq_topic) == 0

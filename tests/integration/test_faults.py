"""Bad days, against the real broker and ClickHouse engine: an operator's mistake pauses the sink
(no DLQ) until it is fixed; a pathological document and a message that killed the worker go to
the DLQ while the stream goes on."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from streams.bench.etl import generated_documents
from streams.local import services
from streams.store.clickhouse import apply_migrations, make_client
from streams.stream.poison import InflightMarks
from tests.integration.etl_helpers import isolated, poll, read_topic, scalar, stop_clickhouse, topic_size
from tests.integration.test_etl import send_generated

PAUSED = "sink paused until an operator fixes ClickHouse"


def dlq_kinds(settings) -> list[str]:
    return sorted(json.loads(record.value)["error"] for record in read_topic(settings, settings.dlq_topic))


@pytest.mark.timeout(300)
def test_a_dropped_table_pauses_the_sink_and_the_backlog_lands_after_the_fix(stack, worker_factory):
    settings = isolated(stack, "dropped")
    worker = worker_factory(settings)
    send_generated(settings, generated_documents(5))
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 5, 180, "the first 5",
         on_timeout=worker.log_tail)

    client = make_client(settings)
    client.command(f"DROP TABLE {settings.clickhouse_database}.metrics")
    client.close()
    send_generated(settings, generated_documents(45, start=5))
    poll(lambda: PAUSED in worker.log_tail(100_000), 120, "the sink to pause", on_timeout=worker.log_tail)
    assert topic_size(settings, settings.dlq_topic) == 0
    assert worker.proc.poll() is None

    apply_migrations(settings)  # the operator's fix (what `newsetl replay --source enriched` runs first)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 50, 180, "all 50 documents",
         on_timeout=worker.log_tail)
    assert "sink resumed" in worker.log_tail(100_000)
    assert topic_size(settings, settings.dlq_topic) == 0
    assert scalar(settings, "SELECT uniqExact(doc_id) FROM metrics_latest") == 45  # the 45 written after the drop


@pytest.mark.timeout(300)
def test_a_password_change_pauses_the_sink_and_nothing_goes_to_the_dlq(make_stack_settings, worker_factory):
    own = make_stack_settings()
    services.up(own)
    settings = isolated(own, "password")
    worker = worker_factory(settings)
    send_generated(settings, generated_documents(5))
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 5, 180, "the first 5",
         on_timeout=worker.log_tail)

    # The operator restarts ClickHouse with a password the worker does not know.
    locked = own.model_copy(update={"clickhouse_password": SecretStr("changed-by-the-operator")})
    stop_clickhouse(own)
    services.up(locked)
    send_generated(settings, generated_documents(45, start=5))
    poll(lambda: PAUSED in worker.log_tail(100_000), 120, "the sink to pause", on_timeout=worker.log_tail)
    assert '"code": 516' in worker.log_tail(100_000)
    assert topic_size(settings, settings.dlq_topic) == 0

    # ... and puts the old password back: the backlog lands, nothing was lost or DLQ'd.
    stop_clickhouse(locked)
    services.up(own)
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 50, 240, "all 50 documents",
         on_timeout=worker.log_tail)
    assert topic_size(settings, settings.dlq_topic) == 0


@pytest.mark.timeout(300)
def test_a_document_with_100000_figures_goes_to_the_dlq_while_the_next_100_land(stack, worker_factory):
    settings = isolated(stack, "figures")
    text = "全县" + "、".join(f"{i}户" for i in range(100_000)) + "。"
    assert len(text) < settings.max_doc_chars
    poison = {"doc_id": "huge", "source": "attack", "text": text}
    worker = worker_factory(settings)
    send_generated(settings, [poison, *generated_documents(100)])
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 100, 240, "the 100 documents",
         on_timeout=worker.log_tail)
    poll(lambda: topic_size(settings, settings.dlq_topic) == 1, 60, "the DLQ record")
    (record,) = [json.loads(r.value) for r in read_topic(settings, settings.dlq_topic)]
    assert (record["error"], record["doc_id"]) == ("too_many_figures", "huge")
    assert record["detail"].startswith("more than 500 figures in one sentence")
    assert json.loads(record["payload"]) == poison
    assert worker.proc.poll() is None


@pytest.mark.timeout(300)
def test_a_message_that_killed_the_worker_twice_goes_to_the_dlq_as_poison(stack, worker_factory):
    settings = isolated(stack, "poison")
    send_generated(settings, generated_documents(1))
    (first,) = read_topic(settings, settings.raw_topic)
    # What two workers killed while analysing it leave behind (the mark of each attempt).
    marks = InflightMarks(settings.data_dir / "inflight" / settings.worker_group)
    marks.begin(first.topic, first.partition, first.offset)
    marks.begin(first.topic, first.partition, first.offset)

    worker = worker_factory(settings)
    send_generated(settings, generated_documents(20, start=1))
    poll(lambda: scalar(settings, "SELECT count() FROM documents_latest") == 20, 240, "the other 20",
         on_timeout=worker.log_tail)
    poll(lambda: dlq_kinds(settings) == ["poison_message"], 60, "the poison record")
    (record,) = [json.loads(r.value) for r in read_topic(settings, settings.dlq_topic)]
    assert (record["partition"], record["offset"]) == (first.partition, first.offset)
    assert scalar(settings, "SELECT countIf(doc_id = {d:String}) FROM documents_latest",
                  d=first.key.decode()) == 0
    assert not list(marks.folder.glob("*.json"))

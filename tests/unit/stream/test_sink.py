"""Sink batching logic: dedup tokens, retries and narrowing permanent failures (fake inserter)."""

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from streams.settings import Settings
from streams.store.clickhouse import is_transient, split_statements
from streams.stream.sink import ClickHouseSink, PendingDoc, RetryingInserter, dedup_token


def pending(enriched, doc_id="doc-1", offset=0, partition=0, version="0.1.0+a"):
    return PendingDoc(enriched(doc_id=doc_id, version=version, offset=offset), "news.enriched", partition, offset, b"{}")


def test_dedup_token_is_deterministic_and_version_sensitive(enriched):
    batch = [pending(enriched, "a", 10), pending(enriched, "b", 11)]
    assert dedup_token("metrics", batch) == dedup_token("metrics", list(reversed(batch)))
    assert dedup_token("metrics", batch) != dedup_token("documents", batch)
    newer = [pending(enriched, "a", 10, version="0.1.0+b"), pending(enriched, "b", 11, version="0.1.0+b")]
    assert dedup_token("metrics", batch) != dedup_token("metrics", newer)
    other_range = [pending(enriched, "a", 12), pending(enriched, "b", 13)]
    assert dedup_token("metrics", batch) != dedup_token("metrics", other_range)


class FakeInserter(RetryingInserter):
    """Fails permanently for any insert containing a poisoned doc_id."""

    def __init__(self, poisoned: set[str]) -> None:
        super().__init__(Settings())
        self.poisoned = poisoned
        self.calls: list[list[str]] = []

    def _insert_tables(self, inserts):
        doc_ids = sorted({row[0] for _, _, rows, _ in inserts for row in rows})
        self.calls.append(doc_ids)
        if self.poisoned & set(doc_ids):
            raise DatabaseError("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)")


async def test_permanent_error_rejects_only_offending_documents(enriched):
    sink = ClickHouseSink(Settings(), inserter=FakeInserter({"bad"}))
    for i, doc_id in enumerate(["a", "bad", "c"]):
        sink.add(pending(enriched, doc_id, i))
    result = await sink.flush()
    assert [item.doc.raw.doc_id for item in result.written] == ["a", "c"]
    assert [(item.doc.raw.doc_id, reason.split(":")[0]) for item, reason in result.rejected] == [("bad", "ClickHouse error 53")]
    assert sink.pending == 0 and sink.rows == 0


async def test_transient_error_is_retried_until_success(enriched):
    class Flaky(RetryingInserter):
        failures = 2

        def _insert_tables(self, inserts):
            if self.failures:
                self.failures -= 1
                raise OperationalError("connection refused")

    sink = ClickHouseSink(Settings(), inserter=Flaky(Settings(), max_backoff=0.01))
    sink.add(pending(enriched))
    result = await sink.flush()
    assert len(result.written) == 1 and not result.rejected
    assert result.attempts == 3
    assert result.rows == {"metrics": 2, "paragraphs": 1, "documents": 1}


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (DatabaseError("Code: 252. DB::Exception: Too many parts (TOO_MANY_PARTS)"), True),
        (DatabaseError("Code: 319. DB::Exception: Unknown status"), True),
        (DatabaseError("Code: 60. DB::Exception: Table newsetl.x does not exist. (UNKNOWN_TABLE)"), False),
        (DatabaseError("Code: 53. DB::Exception: Type mismatch"), False),
        (OperationalError("Error HTTPConnectionPool: connection refused"), True),
        (ValueError("bad value"), False),
    ],
)
def test_error_classification(exc, transient):
    assert is_transient(exc) is transient


def test_split_statements_drops_comments():
    sql = "-- comment; not a statement\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nCREATE VIEW b AS SELECT 1;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE VIEW b AS SELECT 1"]


@pytest.mark.parametrize("code", [516, 60, 81, 243, 164])
async def test_operator_errors_pause_the_sink_instead_of_rejecting(enriched, code):
    from streams.observability import SINK_PAUSED
    from streams.store.clickhouse import is_operator_error

    class Misconfigured(RetryingInserter):
        failures = 3
        paused_seen: list[float] = []

        def _insert_tables(self, inserts):
            self.paused_seen.append(SINK_PAUSED._value.get())
            if self.failures:
                self.failures -= 1
                raise DatabaseError(f"Code: {code}. DB::Exception: fix me (X)")

    inserter = Misconfigured(Settings(), max_backoff=0.01)
    sink = ClickHouseSink(Settings(), inserter=inserter)
    sink.add(pending(enriched))
    result = await sink.flush()
    assert len(result.written) == 1 and not result.rejected and result.attempts == 4
    assert inserter.paused_seen == [0, code, code, code] and SINK_PAUSED._value.get() == 0
    assert is_operator_error(DatabaseError(f"Code: {code}. DB::Exception: x")) and not is_transient(
        DatabaseError(f"Code: {code}. DB::Exception: x"))

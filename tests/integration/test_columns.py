"""The column lists the sink writes (streams/stream/rows.py) against the tables the migrations
create, as the engine reports them in system.columns."""

from __future__ import annotations

import pytest

from streams.stream.rows import DLQ_COLUMNS, TABLE_COLUMNS
from tests.integration.etl_helpers import isolated

WRITTEN = {**TABLE_COLUMNS, "dlq": DLQ_COLUMNS}


@pytest.mark.parametrize("table", sorted(WRITTEN))
def test_rows_write_every_column_that_has_no_default(stack, ch_client, table):
    settings = isolated(stack, f"cols_{table}")
    result = ch_client.query(
        "SELECT name, default_kind FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        parameters={"db": settings.clickhouse_database, "t": table},
    )
    ddl = dict(result.result_rows)
    written = WRITTEN[table]
    assert len(set(written)) == len(written), "a column is written twice"
    assert sorted(set(written) - set(ddl)) == [], "written but not in the table"
    assert sorted(name for name, kind in ddl.items() if name not in written and not kind) == [], \
        "in the table without a default, but never written"

"""The embedded local stack: a real Kafka broker and the ClickHouse engine (chdb) over HTTP.

:mod:`streams.local.services` starts, stops and reports both; :mod:`streams.local.kafka` fetches
and configures the broker; :mod:`streams.local.clickhouse_http` is the ClickHouse HTTP endpoint.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A user-facing problem with the local services, described in one line."""


__all__ = ["ServiceError"]

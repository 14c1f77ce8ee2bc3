"""The one configuration object of newsetl, read from NEWSETL_* environment variables.

Nothing else in the code base reads ``os.environ``: call :func:`get_settings` (cached) or build a
``Settings(...)`` explicitly (tests do this to point at throw-away services).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Frozen settings; defaults describe the embedded local stack."""

    model_config = SettingsConfigDict(env_prefix="NEWSETL_", frozen=True, extra="ignore")

    kafka_broker: str = "kafka://127.0.0.1:9092"
    kafka_controller_port: int = 9093
    # `newsetl up` runs this many local KRaft nodes (each broker + controller): node k listens on
    # the first broker port + 2(k-1) and the controller port + 2(k-1). Clients may list them all
    # in kafka_broker ("kafka://127.0.0.1:9092;kafka://127.0.0.1:9094;…").
    kafka_brokers: int = Field(default=1, ge=1, le=9)
    # A worker that stops heartbeating loses its partitions after this long (Kafka's default of
    # 45-60 s left a killed worker's partitions idle for a minute).
    kafka_session_timeout_seconds: float = Field(default=8.0, ge=6.0, le=300.0)
    kafka_heartbeat_seconds: float = Field(default=1.0, gt=0.0, le=60.0)
    clickhouse_url: str = "http://127.0.0.1:8123"
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_database: str = "newsetl"
    # A ClickHouse cluster name (remote_servers): migrations run ON CLUSTER, tables are
    # Replicated*MergeTree behind Distributed tables. Empty: one server, plain tables.
    clickhouse_cluster: str = ""
    topic_prefix: str = ""
    topic_partitions: int = 4
    data_dir: Path = Path(".newsetl")
    kafka_libs_dir: Path | None = None  # Kafka broker jars cache; None: <data_dir>/kafka-libs
    sink_batch_rows: int = 10_000
    sink_flush_seconds: float = 0.5
    sink_batch_docs: int = 1000
    # The enrich agent takes up to this many news.raw messages at once (waiting at most this long
    # for them), analyses them in one batch and publishes their results together.
    enrich_batch_docs: int = 128
    enrich_batch_seconds: float = 0.05
    # The worker analyses in a child process (1), so its event loop, Kafka I/O and the sink run on
    # the other core meanwhile; 0 analyses in a thread of the worker process.
    analysis_processes: int = Field(default=1, ge=0, le=1)
    max_doc_chars: int = 1_000_000
    # Figures one document may hold; over either, it goes to the DLQ as too_many_figures.
    max_figures_per_sentence: int = 500
    max_figures_per_doc: int = 50_000
    # Largest Kafka message (raw, enriched or DLQ): an enriched document carries its text a few
    # times over, so this is well above 3 bytes × max_doc_chars.
    max_message_bytes: int = 32 * 1024 * 1024
    segmenter: Literal["rjieba", "jieba"] = "rjieba"
    rules_dir: Path | None = None
    worker_group: str = "newsetl-worker"
    metrics_port: int = 9464
    dashboard_port: int = 8050
    # The dashboard reads a cached copy of the views (streams/dashboard/cache.py), rebuilt when the
    # data changed: checked this often, and never sooner than the last build took.
    dashboard_refresh_seconds: float = Field(default=2.0, gt=0)
    log_level: str = "WARNING"
    # --- `newsetl follow` and the HTTP door (streams/ingest) ---------------------------------
    # Sent with every request, so site operators can see who fetches and how to reach us.
    follow_user_agent: str = "newsetl-follow/0.1 (+https://github.com/newsetl/newsetl)"
    follow_timeout_seconds: float = 20.0  # one HTTP request, connect to last byte
    follow_attempts: int = 4  # tries per URL on 5xx, timeouts and connection errors
    follow_host_concurrency: int = 2  # requests in flight per host
    follow_host_delay_seconds: float = 1.0  # at least this long between request starts per host
    follow_max_page_bytes: int = 5 * 1024 * 1024  # a larger page is refused (counted as failed)
    follow_max_redirects: int = 5
    follow_interval_seconds: float = 300.0  # default poll interval of a source
    follow_jitter: float = 0.1  # each wait is the interval ± this fraction, so followers spread out
    # A claim on an article older than this may be taken over (its follower died before producing).
    follow_claim_lease_seconds: float = 120.0
    follow_metrics_port: int = 9465  # Prometheus metrics of `follow` (0 disables)
    door_port: int = 8070  # `newsetl ingest-server`
    door_token: SecretStr = SecretStr("")  # when set, POST /documents needs `Authorization: Bearer <token>`
    door_max_bytes: int = 32 * 1024 * 1024  # larger request bodies get 413

    @field_validator("kafka_heartbeat_seconds")
    @classmethod
    def _heartbeat_within_session(cls, value: float, info: ValidationInfo) -> float:
        # Kafka expects a few heartbeats per session; one that misses the session is refused
        session = info.data.get("kafka_session_timeout_seconds")
        if session is not None and value * 3 > session:
            raise ValueError(f"must be at most a third of the session timeout ({session} s)")
        return value

    @field_validator("kafka_broker")
    @classmethod
    def _brokers_have_ports(cls, value: str) -> str:
        for part in value.split(";"):
            address = part.strip().split("://", 1)[-1]
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{part.strip()!r} is not host:port (e.g. kafka://127.0.0.1:9092)")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url_is_http(cls, value: str) -> str:
        url = urlparse(value)
        try:
            url.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. http://127.0.0.1:8123)")
        return value

    # --- derived values -------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        """host:port list for aiokafka (the ``kafka://`` scheme stripped)."""
        return ",".join(part.split("://", 1)[-1] for part in self.kafka_broker.split(";"))

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        host, _, port = self.bootstrap_servers.split(",")[0].rpartition(":")
        return host, int(port)

    @property
    def clickhouse_host_port(self) -> tuple[str, int]:
        url = urlparse(self.clickhouse_url)
        return url.hostname or "127.0.0.1", url.port or 8123

    @property
    def max_fetch_bytes(self) -> int:
        """Consumer fetch size that always fits the largest message (plus batch overhead)."""
        return self.max_message_bytes + 1024 * 1024

    @staticmethod
    def replication(brokers: int) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) of topics on a cluster of ``brokers``: three
        copies at most, and from three on an ``acks=all`` write needs two of them, so one broker
        may fail without stopping anything (used by the local brokers' config and by the topics)."""
        factor = min(3, max(1, brokers))
        return factor, 2 if factor >= 3 else 1

    def to_env(self) -> dict[str, str]:
        """NEWSETL_* variables that reproduce these settings in a child process."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"NEWSETL_{name.upper()}"] = str(value)
        return env

    def topic(self, name: str) -> str:
        """Full topic name for a logical one (``raw``, ``enriched``, ``dlq``)."""
        return f"{self.topic_prefix}news.{name}"

    @property
    def raw_topic(self) -> str:
        return self.topic("raw")

    @property
    def enriched_topic(self) -> str:
        return self.topic("enriched")

    @property
    def dlq_topic(self) -> str:
        return self.topic("dlq")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()

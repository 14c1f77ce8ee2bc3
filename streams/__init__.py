"""newsetl: streaming ETL for Chinese local news (Kafka -> Faust -> ClickHouse)."""

__version__ = "0.1.0"

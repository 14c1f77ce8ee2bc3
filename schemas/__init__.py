"""Data contracts of newsetl: pydantic models and ClickHouse DDL migrations."""

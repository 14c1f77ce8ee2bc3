"""ClickHouse access: the client factory, error classification and the migrations runner."""

"""Benchmarks behind ``newsetl bench``: the analysis, the end-to-end stream, the dashboard queries."""

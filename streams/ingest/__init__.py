"""Getting articles into ``news.raw``: reading files, JSONL and stdin, and publishing them."""

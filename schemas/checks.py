"""The checks every way in shares (files, stdin, ``news.raw`` messages, ``newsetl analyze``):
UTF-8 decoding, the document length limit and the wording of a validation error, each said once."""

from __future__ import annotations

from pydantic import ValidationError


class TextDecodeError(ValueError):
    """Bytes that are not UTF-8 text; the message says where."""


def decode_utf8(data: bytes, *, allow_bom: bool = False) -> str:
    """``data`` as text; raises TextDecodeError ``not UTF-8 text (<reason> at byte N)``."""
    try:
        return data.decode("utf-8-sig" if allow_bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise TextDecodeError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def length_problem(text: str, max_chars: int) -> str | None:
    """Why ``text`` is too long for NEWSETL_MAX_DOC_CHARS, or None when it is not."""
    if len(text) > max_chars:
        return f"text has {len(text)} characters, limit is {max_chars} (NEWSETL_MAX_DOC_CHARS)"
    return None


def describe_validation_error(exc: ValidationError) -> str:
    """One line for a pydantic error: where the first problem is, what it is, and how many more."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "document"
    more = exc.error_count() - 1
    what = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {what}" + (f" (and {more} more)" if more else "")

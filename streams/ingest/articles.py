"""Reading articles from files into RawDocuments (used by ``produce`` and ``analyze`` alike).

``.txt``/``.md``: one article per file; the title is the first non-empty line when it looks like
a headline; a ``YYYY-MM-DD`` date near the top becomes ``published_at``. ``.json``: one
RawDocument object (or a list of them); ``.jsonl``: one per line. doc_id, when not given, is the
sha256 of the lightly normalized text, so re-reading the same file gives the same id.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from schemas.checks import TextDecodeError, decode_utf8, describe_validation_error, length_problem
from schemas.models import RawDocument, doc_id_for

TEXT_SUFFIXES = {".txt", ".md"}
JSON_SUFFIXES = {".json", ".jsonl"}
SUFFIXES = TEXT_SUFFIXES | JSON_SUFFIXES

_DATE_RE = re.compile(r"(20\d{2}|19\d{2})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?")
_SENTENCE_PUNCT = re.compile(r"[。！？!?；;，,]")
_NAV_MARKERS = ("您的位置", "当前位置", ">", "》>", "首页")


class ArticleError(Exception):
    """A file (or one record in it) that cannot become a RawDocument."""


@dataclass(slots=True)
class Loaded:
    """One record read from a path: a document, or the error that prevented it."""

    path: Path
    document: RawDocument | None = None
    error: str | None = None
    line: int | None = None


def light_normalize(text: str) -> str:
    """NFKC and whitespace folded: the basis of a stable doc_id."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def stable_doc_id(text: str) -> str:
    return doc_id_for(light_normalize(text))


def guess_title(text: str) -> str | None:
    """First non-empty line, when it looks like a headline (short, no sentence punctuation)."""
    for line in text.splitlines()[:8]:
        line = line.strip().strip("\u3000")
        if not line or any(marker in line for marker in _NAV_MARKERS):
            continue
        if len(line) <= 60 and not _SENTENCE_PUNCT.search(line) and not _DATE_RE.match(line):
            return line
        return None
    return None


def guess_published_at(text: str) -> datetime | None:
    """A date in the first few lines (e.g. ``2020-05-16 11:25``), taken as UTC."""
    head = "\n".join(text.splitlines()[:8])
    match = _DATE_RE.search(head)
    if not match:
        return None
    year, month, day, hour, minute = match.groups()
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=UTC)
    except ValueError:
        return None


def document_from_text(text: str, path: Path) -> RawDocument:
    return RawDocument(
        doc_id=stable_doc_id(text),
        source=str(path),
        title=guess_title(text),
        published_at=guess_published_at(text),
        text=text,
    )


def document_from_object(data: object, path: Path) -> RawDocument:
    if not isinstance(data, dict):
        raise ArticleError(f"expected a JSON object, got {type(data).__name__}")
    data = dict(data)
    data.setdefault("source", str(path))
    if not data.get("doc_id") and isinstance(data.get("text"), str):
        data["doc_id"] = stable_doc_id(data["text"])
    return RawDocument.model_validate(data)


def read_path(path: Path, max_doc_chars: int) -> Iterator[Loaded]:
    """Every record in one file, each either a document or an error; never raises for bad input."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Loaded(path, error=exc.strerror or str(exc))
        return
    yield from read_data(data, path, max_doc_chars)


def read_data(data: bytes, path: Path, max_doc_chars: int, suffix: str | None = None) -> Iterator[Loaded]:
    """Every record in ``data`` read as a file named ``path`` (``suffix`` overrides its ending)."""
    try:
        text = decode_utf8(data, allow_bom=True)
    except TextDecodeError as exc:
        yield Loaded(path, error=str(exc))
        return
    suffix = (suffix or path.suffix).lower()
    if suffix == ".jsonl":
        records = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    elif suffix == ".json":
        records = [(None, text)]
    else:
        records = [(None, None)]
    for line_no, chunk in records:
        try:
            if chunk is None:
                doc = document_from_text(text, path)
            else:
                parsed = json.loads(chunk)
                items = parsed if suffix == ".json" and isinstance(parsed, list) else [parsed]
                for item in items:
                    yield _checked(document_from_object(item, path), path, max_doc_chars, line_no)
                continue
        except json.JSONDecodeError as exc:
            yield Loaded(path, error=f"invalid JSON: {exc.msg}", line=line_no or exc.lineno)
            continue
        except RecursionError:
            yield Loaded(path, error="invalid JSON: nested too deeply", line=line_no)
            continue
        except ValidationError as exc:
            yield Loaded(path, error=describe_validation_error(exc), line=line_no)
            continue
        except ArticleError as exc:
            yield Loaded(path, error=str(exc), line=line_no)
            continue
        yield _checked(doc, path, max_doc_chars, line_no)


def _checked(doc: RawDocument, path: Path, max_doc_chars: int, line: int | None) -> Loaded:
    too_long = length_problem(doc.text, max_doc_chars)
    if too_long:
        return Loaded(path, error=too_long, line=line)
    return Loaded(path, document=doc, line=line)


def expand_paths(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files named by paths, directories (recursive) and globs; plus the inputs that matched nothing."""
    found: list[Path] = []
    missing: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if any(ch in raw for ch in "*?["):
            matches = sorted(Path().glob(raw)) if not path.is_absolute() else sorted(
                Path(path.anchor).glob(str(path.relative_to(path.anchor))))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in SUFFIXES]
            found.extend(files)
            if not files:
                missing.append(raw)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            missing.append(raw)
    return found, missing

"""Plain data types passed between the pure pipeline stages (normalize → segment → classify → extract).

They know nothing of Kafka or ClickHouse. Offsets are Python code-point offsets into
``NormalizedDoc.text`` (the normalized, simplified text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Script = Literal["simplified", "traditional"]


@dataclass(frozen=True, slots=True)
class Paragraph:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Sentence:
    paragraph_index: int
    start: int
    end: int
    text: str


@dataclass(slots=True)
class NormalizedDoc:
    text: str
    script: Script
    paragraphs: list[Paragraph] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)

"""Near-duplicate fingerprint of a document: MinHash over the character shingles of its text.

The text is the pipeline's normalized text (simplified script, NFKC width); letters and digits
only are kept (punctuation, spaces and line breaks dropped), so a repost that changes
punctuation, spacing or script has the same shingles. :func:`fingerprint` returns the
``NUM_PERM`` minimum hash values (``datasketch.MinHash`` over crc32, fixed seed: the same text always gets
the same values, in every process) and the number of distinct shingles; ClickHouse groups
documents by them (``schemas/clickhouse/008_facts.sql``): LSH bands of ``BAND_ROWS`` values find
candidates, and the share of equal values estimates their Jaccard similarity.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

from datasketch import MinHash

NUM_PERM = 128
BAND_ROWS = 3  # 42 bands of 3: pairs at Jaccard 0.5 are candidates with p ≈ 0.996, at 0.1 with ≈ 0.04
SHINGLE = 4
SEED = 1
SCHEME = "affine32"  # datasketch 2's default, named so that a new default cannot change the values
# datasketch builds a (NUM_PERM × shingles) array per update: bounded, so a huge text stays cheap
_CHUNK = 4096
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    minhash: list[int]
    shingles: int


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """Distinct ``size``-character shingles of ``text`` without punctuation and whitespace (a text
    shorter than ``size`` is one shingle; an empty one has none)."""
    compact = _NOT_WORD.sub("", text)
    if len(compact) <= size:
        return {compact} if compact else set()
    return {compact[i:i + size] for i in range(len(compact) - size + 1)}


@lru_cache(maxsize=1)
def _permutations() -> tuple:  # type: ignore[type-arg]
    # datasketch draws NUM_PERM permutations from its seed for every MinHash it builds (~0.3 ms);
    # the same seed gives the same ones, so they are drawn once
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations


def fingerprint(text: str) -> Fingerprint:
    """MinHash values and shingle count of ``text`` (no shingles: empty values)."""
    found = shingles(text)
    if not found:
        return Fingerprint([], 0)
    # crc32: a C hash of each shingle, half the cost of datasketch's default sha1, same estimates
    sketch = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32, permutations=_permutations(), scheme=SCHEME)
    # in any order: each value is a minimum over all shingles (sorting them cost a fifth of the time)
    encoded = [s.encode("utf-8") for s in found]
    for start in range(0, len(encoded), _CHUNK):
        sketch.update_batch(encoded[start:start + _CHUNK])
    return Fingerprint(sketch.hashvalues.tolist(), len(found))


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values (0.0 when either is empty)."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)

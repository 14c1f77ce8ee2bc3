"""The benchmark corpus: deterministic articles recombined from the seeds' paragraphs.

``bench_corpus(n)`` gives ``n`` RawDocument-shaped dicts — short (1–2 paragraphs, about half),
medium (4–6) and long (12–20) articles — whose paragraphs are drawn from ``seeds/*.txt`` with a
fixed ``random.Random(seed)``, every Arabic number replaced by another of the same number of
digits and the county names varied, so the analysis meets realistic text and figures without
repeating one document. The same ``n`` and seed give the same corpus on every machine.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from streams.errors import UserError

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
COUNTIES = ("平溪县", "青岚县", "石门县", "柳川县", "河口县", "凤鸣县", "松岭县", "桃源县", "云溪县", "澜江县")
_COUNTY = re.compile(r"[\u4e00-\u9fff]{1,3}县")
_NUMBER = re.compile(r"\d+")
# (share of documents, fewest paragraphs, most paragraphs)
SIZES = {"short": (0.5, 1, 2), "medium": (0.35, 4, 6), "long": (0.15, 12, 20)}


def seed_files(seeds_dir: Path = SEEDS_DIR) -> list[Path]:
    """The seed articles (``*.txt``), sorted; a UserError when there are none (an installed
    package without its checkout: the benchmarks need the repository's ``seeds/``)."""
    files = sorted(seeds_dir.glob("*.txt"))
    if not files:
        raise UserError(f"no seed articles (*.txt) in {seeds_dir}: the benchmarks need a checkout of newsetl")
    return files


def seed_paragraphs(seeds_dir: Path = SEEDS_DIR) -> list[str]:
    """The non-trivial paragraphs (≥ 20 characters) of the seeds, in file order."""
    paragraphs: list[str] = []
    for path in seed_files(seeds_dir):
        text = path.read_text(encoding="utf-8")
        paragraphs += [p.strip() for p in re.split(r"\n\s*\n|\n", text) if len(p.strip()) >= 20]
    return paragraphs


def _vary(rng: random.Random, paragraph: str, county: str) -> str:
    def number(match: re.Match[str]) -> str:
        digits = match.group()
        if len(digits) == 4 and digits.startswith(("19", "20")):
            return digits  # a year stays a year
        first = str(rng.randint(1, 9)) if len(digits) > 1 or digits != "0" else "0"
        return first + "".join(str(rng.randint(0, 9)) for _ in digits[1:])

    return _COUNTY.sub(county, _NUMBER.sub(number, paragraph))


def bench_corpus(count: int, seed: int = 11, seeds_dir: Path = SEEDS_DIR) -> list[dict]:
    """``count`` deterministic articles (RawDocument fields: ``doc_id``, ``source``, ``title``, ``text``)."""
    pool = seed_paragraphs(seeds_dir)
    if not pool:
        raise ValueError(f"no seed paragraphs in {seeds_dir}")
    rng = random.Random(seed)
    kinds = list(SIZES)
    weights = [SIZES[kind][0] for kind in kinds]
    docs = []
    for index in range(count):
        kind = rng.choices(kinds, weights)[0]
        _, fewest, most = SIZES[kind]
        county = rng.choice(COUNTIES)
        paragraphs = [_vary(rng, rng.choice(pool), county) for _ in range(rng.randint(fewest, most))]
        title = f"{county}简报（第{index + 1}期）"
        docs.append({"doc_id": f"bench-{seed}-{index:05d}", "source": "bench", "title": title,
                     "text": "\n\n".join([title, *paragraphs])})
    return docs

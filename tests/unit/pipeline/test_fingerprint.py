"""The near-duplicate fingerprint: shingles without punctuation or spacing, stable MinHash values."""

import random
import zlib

import pytest
from datasketch import MinHash

from streams.pipeline import fingerprint as fingerprint_module
from streams.pipeline.fingerprint import NUM_PERM, SCHEME, SEED, fingerprint, shingles, similarity
from streams.pipeline.normalize import normalize

ARTICLE = (
    "青石县今年新建蔬菜大棚120座，带动脱贫户65户稳定增收。\n"
    "县农业农村局介绍，全县蔬菜种植面积达到3.2万亩，年产值突破2亿元。\n"
    "下一步，青石县将继续完善冷链物流，让山里的好菜走得更远。"
)


def test_shingles_ignore_punctuation_and_spacing() -> None:
    assert shingles("新建 大棚，共120座。") == {"新建大棚", "建大棚共", "大棚共1", "棚共12", "共120", "120座"}
    assert shingles("大棚") == {"大棚"}
    assert shingles(" ，。") == set()


def test_fingerprint_is_stable_and_sized() -> None:
    first, again = fingerprint(ARTICLE), fingerprint(ARTICLE)
    assert first == again
    assert len(first.minhash) == NUM_PERM
    assert all(0 <= value < 2**32 for value in first.minhash)
    assert first.shingles == len(shingles(ARTICLE))
    assert fingerprint("。") .minhash == [] and fingerprint("").shingles == 0


def test_punctuation_spacing_and_script_do_not_change_it() -> None:
    respaced = ARTICLE.replace("，", ", ").replace("。", ".\n\n")
    traditional = normalize(
        "青石縣今年新建蔬菜大棚120座，帶動脫貧戶65戶穩定增收。\n"
        "縣農業農村局介紹，全縣蔬菜種植面積達到3.2萬畝，年產值突破2億元。\n"
        "下一步，青石縣將繼續完善冷鏈物流，讓山裏的好菜走得更遠。"
    ).text
    assert fingerprint(respaced) == fingerprint(ARTICLE)
    assert similarity(fingerprint(traditional).minhash, fingerprint(ARTICLE).minhash) == 1.0


def test_similarity_orders_reposts_above_other_articles() -> None:
    with_lead = "来源：青石县融媒体中心\n" + ARTICLE
    trimmed = ARTICLE.rsplit("\n", 1)[0]
    other = "河口镇卫生院今年为全镇老人免费体检，签约家庭医生服务覆盖率达到九成以上。"
    base = fingerprint(ARTICLE).minhash
    assert similarity(fingerprint(with_lead).minhash, base) >= 0.7
    assert similarity(fingerprint(trimmed).minhash, base) >= 0.5
    assert similarity(fingerprint(other).minhash, base) <= 0.1
    assert similarity([], base) == 0.0


def _datasketch(text: str) -> list[int]:
    """The reference: datasketch's own MinHash over the same shingles."""
    found = shingles(text)
    if not found:
        return []
    sketch = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32, scheme=SCHEME)
    sketch.update_batch([s.encode("utf-8") for s in found])
    return sketch.hashvalues.tolist()


def _generated(seed: int, length: int) -> str:
    """County-news-like text: common characters, digits, Latin letters and punctuation."""
    rng = random.Random(seed)
    alphabet = "县镇村乡户人元亩万亿产业就业教育健康扶贫合作社养殖种植增收脱贫0123456789ABCxyz，。、；：（）% \n"
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize("text", [
    ARTICLE, "大棚", "新建大棚", "120座", "𠀀𠀁𠀂𠀃𠀄", "GDP增长6.5%", _generated(1, 40), _generated(2, 900),
    _generated(3, 3000),
])
def test_values_are_datasketchs_minhash(text: str) -> None:
    assert fingerprint(text).minhash == _datasketch(text)


def test_a_text_longer_than_one_block_is_datasketchs_minhash(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _generated(4, 2000)
    monkeypatch.setattr(fingerprint_module, "_CHUNK", 7)  # many blocks, the last one short
    assert fingerprint(text).minhash == _datasketch(text)

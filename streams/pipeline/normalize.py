"""Text normalization: the first pipeline stage.

``normalize(text)`` returns a :class:`NormalizedDoc` whose ``text`` is what every later offset
refers to. What it does, in order:

1. line ends: ``\\r\\n`` / ``\\r`` → ``\\n``; invisible format characters (zero-width space and
   joiners, soft hyphen, bidi marks, BOM) are removed, so a number split by one reads whole;
2. width folding (NFKC): full-width digits, letters, ``％＋．`` etc. become ASCII, and so do other
   compatibility forms (``㎡`` → ``m2``). Decision: the Chinese clause punctuation
   ``，：；！？（）`` is *kept* full-width (NFKC would turn it into ASCII), so the normalized text
   still reads as Chinese and an ASCII ``?`` stays distinguishable from a real question mark.
   ``。、“”`` are not touched by NFKC anyway, circled numbers ``①`` are kept (NFKC would glue a
   bare digit to the item's first word), and a full-width comma between full-width digits is a
   thousands separator (``１，８２０`` → ``1,820``). The ideographic space U+3000 becomes a space;
3. traditional script (detected on a sample) is converted with OpenCC ``t2s``;
4. pinyin annotations after a CJK character (``鎮(zhèn)``) are removed;
5. layout: paragraph indents are trimmed and lines broken inside a sentence (PDF e-paper layout)
   are joined, so that ``3,200⏎亩`` or ``3.62⏎万户`` become one token again.

Paragraphs: when the document has blank lines, a paragraph is a block between blank lines, and
inside a block a line break is kept as a paragraph break only after sentence-final punctuation
or before an indented line (not when nearly every line is indented: that layout says nothing, and
never between a number and its unit); otherwise (no blank lines) each line is a paragraph unless the
document looks like e-paper (most lines end mid-sentence), in which case the same joining rule
applies. Paragraphs are joined with ``\\n`` in ``NormalizedDoc.text``.

Sentences end at ``。！？!?`` (closing quotes/brackets right after stay with the sentence) or at
the paragraph end; semicolons do not split. An ASCII ``?`` between Latin letters, digits or a
dot is a broken character (``總?cè)丝?.4萬人``), not a sentence end.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from streams.pipeline.types import NormalizedDoc, Paragraph, Script, Sentence

# Full-width punctuation kept as is: mapped to private-use code points around NFKC. Circled
# numbers too: NFKC makes ① a bare 1 glued to the item's first word (①1家门口就业 → 1家).
_KEEP = "，：；！？（）" + "".join(chr(c) for c in range(0x2460, 0x2474))
# A full-width comma between full-width digits groups thousands (１，８２０人次); it is folded
# with the digits, one character for one, so that offsets hold.
_FULLWIDTH_THOUSANDS = re.compile(r"(?<=[０-９])，(?=[０-９]{3}(?![０-９]))")
# So does one between ASCII digits when they are grouped like thousands (1–3 digits, then groups
# of exactly three): a repost whose commas were all made full-width (1，200个).
_ASCII_THOUSANDS = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:，[0-9]{3})+(?![0-9])")
# What every match of the two patterns above holds (a cheap search that rules most texts out).
_FULLWIDTH_THOUSANDS_HINT = re.compile(r"[０-９]，[０-９]{3}")
_ASCII_THOUSANDS_HINT = re.compile(r"[0-9]，[0-9]{3}")
_PUA_BASE = 0xF8F0
_PROTECT_PAIRS = tuple((c, chr(_PUA_BASE + i)) for i, c in enumerate(_KEEP))
_PUA_IN_INPUT = re.compile(f"[{chr(_PUA_BASE)}-{chr(_PUA_BASE + len(_KEEP) - 1)}]")

_PINYIN_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ"
_PINYIN = re.compile(
    rf"(?=[(（])(?<=[\u3400-\u9fff\uf900-\ufaff?\ufffd])[(（][a-z{_PINYIN_VOWELS}]{{1,7}}[)）]"  # (?=…): fails fast
)

_CJK = re.compile(r"[\u3400-\u9fff]")
# Unicode format characters (category Cf) found in pasted web text. The zero-width joiner is
# kept inside emoji sequences (👷‍♀️), where it means something, and removed next to text.
_FORMAT_CHARS = re.compile(
    "[\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
    "|(?<=[\\w\u3000-\u9fff])\u200d|\u200d(?=[\\w\u3000-\u9fff])"
)
# Every match of _FORMAT_CHARS holds one of these characters.
_FORMAT_CHAR_ANY = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_SENT_END = "。！？!?"
_CLOSERS = "”’」』）)】》\"'"
_LINE_END_FINAL = re.compile(rf"[{_SENT_END}][{re.escape(_CLOSERS)}]*$")
_NUMBER_TAIL = re.compile(r"\d[\d.,]*(?:万|亿|万平方|平方)?$")
_UNIT_HEAD = re.compile(r"[万亿千百元人户个家亩吨米公年名%余多]")
_INDENT = re.compile(r"^(?:\u3000|\s{2,})")
_BOUNDARY = re.compile(
    rf"(?=[{_SENT_END}])(?:[。！？!]|(?<![A-Za-z0-9.?\ufffd])\?(?![A-Za-z0-9.?\ufffd]))[{re.escape(_CLOSERS)}]*"
)


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202 - opencc has no type stubs
    import opencc

    return opencc.OpenCC("t2s")


def fold_width(text: str) -> str:
    """NFKC-fold ``text`` keeping the Chinese clause punctuation full-width (see module doc)."""
    if _ASCII_THOUSANDS_HINT.search(text):
        text = _ASCII_THOUSANDS.sub(_ascii_thousands, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    if _PUA_IN_INPUT.search(text):
        text = _PUA_IN_INPUT.sub("\ufffd", text)
    if _FULLWIDTH_THOUSANDS_HINT.search(text):
        text = _FULLWIDTH_THOUSANDS.sub(",", text)
    # Protect the kept characters (one ``replace`` per character present: much faster than a
    # ``translate`` over the whole text); no normalization form produces a private-use character,
    # so every one after NFKC is one put here.
    used = [pair for pair in _PROTECT_PAIRS if pair[0] in text]
    for char, private in used:
        text = text.replace(char, private)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    for char, private in used:
        text = text.replace(private, char)
    return text


def _ascii_thousands(match: re.Match[str]) -> str:
    return match.group().replace("，", ",")


_SCRIPT_SAMPLE = 4000
_DIFF_CHUNK = 256


def detect_script(text: str, sample: int = _SCRIPT_SAMPLE) -> Script:
    """``traditional`` when OpenCC ``t2s`` changes at least 3% of the CJK characters of a sample."""
    return _detect_script(text, sample)[0]


def _detect_script(text: str, sample: int = _SCRIPT_SAMPLE) -> tuple[Script, str | None]:
    """:func:`detect_script` and the ``t2s`` conversion of the sample (``None`` when not converted)."""
    head = text[:sample]
    if _CJK.search(head) is None:
        return "simplified", None
    converted = _t2s().convert(head)
    if converted == head:  # nothing changed: simplified, whatever the CJK count
        return "simplified", converted
    cjk = len(_CJK.findall(head))
    if len(converted) != len(head):
        changed = abs(len(converted) - len(head)) + 1
        return ("traditional" if changed / cjk >= 0.03 else "simplified"), converted
    # the changed characters counted chunk by chunk: the share only grows, so the count stops
    # as soon as it reaches the threshold (at once for a traditional text)
    changed = 0
    for at in range(0, len(head), _DIFF_CHUNK):
        changed += sum(map(str.__ne__, head[at : at + _DIFF_CHUNK], converted[at : at + _DIFF_CHUNK]))
        if changed / cjk >= 0.03:
            return "traditional", converted
    return "simplified", converted


def normalize_fragment(text: str, script: Script | None = None) -> str:
    """Character-level normalization only (no layout): width folding, t2s, pinyin removal.

    Useful to compare a raw substring (a gold sentence or span) with the normalized document.
    """
    text = fold_width(text.replace("\r\n", "\n").replace("\r", "\n"))
    if script is None:
        script = detect_script(text)
    return _convert_script(text, script)


def _convert_script(text: str, script: Script, converted: str | None = None) -> str:
    """t2s for a traditional text and pinyin removal, on already width-folded text
    (``converted``: ``t2s`` of ``text`` when already known)."""
    if script == "traditional":
        text = converted if converted is not None else _t2s().convert(text)
    if "(" in text or "（" in text:
        text = _PINYIN.sub("", text)
    return text


def _is_final(line: str) -> bool:
    """``_LINE_END_FINAL.search(line)``, read from the end instead of scanning the whole line:
    a sentence end followed only by closers (``$`` also matches before a final ``\\n``)."""
    if line.endswith("\n"):
        line = line[:-1]
    head = line.rstrip(_CLOSERS)
    return bool(head) and head[-1] in _SENT_END


def _join(left: str, right: str) -> str:
    if left and right and left[-1].isascii() and left[-1].isalpha() and right[0].isascii() and right[0].isalpha():
        return f"{left} {right}"
    return left + right


def _merge_lines(lines: list[str], join_open: bool = True) -> list[str]:
    """Join physical lines into paragraphs: break after a complete sentence or before an indent.

    With ``join_open=False`` only a number broken from its unit (``3,200⏎亩``) is joined.
    """
    paragraphs: list[str] = []
    current = ""
    current_is_row = False
    # An indent marks a new paragraph only where some lines are not indented: a layout that
    # indents every physical line (some e-paper exports) says nothing about paragraphs.
    nonempty = [raw for raw in lines if raw.strip()]
    indents_mark = len(nonempty) < 4 or sum(1 for raw in nonempty if _INDENT.match(raw)) < 0.8 * len(nonempty)
    for raw in lines:
        indented = indents_mark and bool(_INDENT.match(raw))
        line = raw.strip()
        if not line:
            continue
        row = is_table_row(line)
        number_split = bool(current) and _number_split(current, line)
        # a table row is a line of its own: never joined to its caption, head or next row; a
        # number broken from its unit (3,200⏎  亩) is one token whatever the indent
        if current and ((indented and not number_split) or _is_final(current) or not (join_open or number_split)
                        or row or current_is_row or (not indents_mark and _is_heading(current))):
            paragraphs.append(current)
            current = ""
        current = _join(current, line) if current else line
        current_is_row = row
    if current:
        paragraphs.append(current)
    return paragraphs


_HEADING = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[、.．](?!\d)|第[一二三四五六七八九十\d]{1,3}[章节部分])")


def _is_heading(current: str) -> bool:
    """``一、产业发展`` / ``（二）稳岗就业``: a short numbered heading on a line of its own (where
    indents say nothing, it would otherwise run into the paragraph after it)."""
    return len(current) <= 24 and bool(_HEADING.match(current))


def _number_split(current: str, line: str) -> bool:
    """``3,200⏎亩``: ``current`` ends with a number and ``line`` starts with its unit."""
    return bool(_UNIT_HEAD.match(line) and _NUMBER_TAIL.search(current))


_TABLE_CELLS = re.compile(r"\t|(?<=\S)(?: {1,}|\u3000+)(?=\S)")


def is_table_row(line: str) -> bool:
    """Three or more cells separated by tabs or spaces (``粮食　15.62　万吨　3.4%``), in Chinese text."""
    if " " not in line and "\t" not in line and "\u3000" not in line:
        return False  # no cell gap (every _TABLE_CELLS match holds one of these)
    return len(_TABLE_CELLS.findall(line)) >= 2 and bool(_CJK.search(line)) and not _is_final(line)


def _looks_like_epaper(lines: list[str]) -> bool:
    nonempty = [ln.strip() for ln in lines if ln.strip()]
    if len(nonempty) < 4:
        return False
    open_lines = sum(1 for ln in nonempty if not _is_final(ln))
    return open_lines / len(nonempty) > 0.6


def split_paragraphs(text: str) -> list[str]:
    """Paragraph texts of a character-normalized document (see module doc for the rules)."""
    lines = text.split("\n")
    has_blank = any(not ln.strip() for ln in lines[1:-1]) if len(lines) > 2 else False
    if has_blank:
        blocks: list[list[str]] = [[]]
        for line in lines:
            if line.strip():
                blocks[-1].append(line)
            elif blocks[-1]:
                blocks.append([])
        return [p for block in blocks for p in _merge_lines(block)]
    return _merge_lines(lines, join_open=_looks_like_epaper(lines))


def split_sentences(paragraph: Paragraph) -> list[Sentence]:
    """Sentences of one paragraph with offsets into the document text (surrounding spaces trimmed)."""
    text = paragraph.text
    cuts = [m.end() for m in _BOUNDARY.finditer(text)]
    if not cuts or cuts[-1] != len(text):
        cuts.append(len(text))
    sentences: list[Sentence] = []
    start = 0
    for cut in cuts:
        begin, end = start, cut
        start = cut
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            # Sentence(paragraph_index, start, end, text), positional
            sentences.append(Sentence(paragraph.index, paragraph.start + begin, paragraph.start + end, text[begin:end]))
    return sentences


def strip_format_chars(text: str) -> str:
    """``text`` without invisible format characters (they split numbers and words silently)."""
    if _FORMAT_CHAR_ANY.search(text) is None:  # (a plain class: much faster than the lookarounds)
        return text
    return _FORMAT_CHARS.sub("", text) if _FORMAT_CHARS.search(text) else text


def normalize(text: str) -> NormalizedDoc:
    """Normalize a raw article (see module doc). Never raises on odd input."""
    folded = fold_width(strip_format_chars(text).replace("\r\n", "\n").replace("\r", "\n"))
    script, converted = _detect_script(folded)
    # (a text no longer than the sample was converted whole by the script detection)
    whole = converted if len(folded) <= _SCRIPT_SAMPLE else None
    body = _convert_script(folded, script, whole)  # fold_width is idempotent: fold once
    paragraphs: list[Paragraph] = []
    sentences: list[Sentence] = []
    parts: list[str] = []
    position = 0
    for index, para_text in enumerate(split_paragraphs(body)):
        paragraph = Paragraph(index, position, position + len(para_text), para_text)  # index, start, end, text
        paragraphs.append(paragraph)
        sentences.extend(split_sentences(paragraph))
        parts.append(para_text)
        position += len(para_text) + 1
    return NormalizedDoc(text="\n".join(parts), script=script, paragraphs=paragraphs, sentences=sentences)

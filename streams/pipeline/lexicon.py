"""The metric lexicon: units, qualifiers and subject → metric/topic rules, from a data file.

The rules live in ``rules/metrics.json`` (versioned with the package) so that they can be
improved without touching code; ``load_metric_lexicon(path)`` reads another ``metrics.json``
instead. See the ``comment`` in that file for how the rules are applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources.abc import Traversable

from streams.pipeline.rulefiles import DEFAULT_RULES_DIR
from streams.pipeline.rulemodels import MetricsRules, read_json, validated

DEFAULT_METRICS_PATH: Traversable = DEFAULT_RULES_DIR / "metrics.json"


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex that finds any of ``keywords`` (``None`` for no keywords); leftmost-longest
    (see :func:`trie_pattern`)."""
    if not keywords:
        return None
    return trie_pattern(keywords)


def trie_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """A regex matching any of ``words``, leftmost-longest: at the leftmost position where a word
    starts, the longest word starting there.

    It finds what the alternation of the words longest first (``长词|短|…``) finds, but is written
    as a prefix tree (``就业(?:帮扶车间)?|…``): the regex engine then follows one branch per
    character instead of trying every word at every position. (Every branch of a node starts
    with another character, so at most one can match; a word that ends at a node makes the rest
    optional and greedy, so the longer word wins and the shorter one is the fallback.)
    """
    unique = set(words)
    if "" in unique:  # an empty word matches everywhere: keep the plain alternation
        return re.compile("|".join(re.escape(w) for w in sorted(unique, key=lambda w: (-len(w), w))))
    trie: dict[str, dict] = {}
    for word in unique:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?" if len(branches) == 1 else body + "?"

    return re.compile(build(trie))


@dataclass(frozen=True, slots=True)
class MetricRule:
    metric: str
    keywords: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    left_regex: re.Pattern[str] | None = None
    topic: str | None = None
    keyword_regex: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyword_regex", keyword_pattern(self.keywords))

    def matches(self, left: str, context: str, unit: str) -> bool:
        if self.units and unit not in self.units:
            return False
        if self.left_regex is not None and not self.left_regex.search(left):
            return False
        return self.keyword_regex is None or self.keyword_regex.search(context) is not None


@dataclass(frozen=True, slots=True)
class TopicRule:
    topic: str
    keywords: tuple[str, ...]
    keyword_regex: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyword_regex", keyword_pattern(self.keywords))


@dataclass(frozen=True, slots=True)
class MetricLexicon:
    version: str
    units: dict[str, tuple[str, float]]
    units_needing_context: dict[str, str]
    bare_count_nouns: dict[str, tuple[str, ...]]
    qualifiers_before: dict[str, str]
    qualifiers_after: dict[str, str]
    qualifier_verbs: tuple[str, ...]
    name_suffixes: tuple[str, ...]
    excluded_after_ge: tuple[str, ...]
    metric_rules: tuple[MetricRule, ...]
    metric_topics: dict[str, str]
    topic_rules: tuple[TopicRule, ...]
    subject_strip_prefixes: tuple[str, ...]
    subject_strip_suffixes: tuple[str, ...]
    bare_count_nouns_before: dict[str, tuple[str, ...]] = field(default_factory=dict)
    enumerated_count_units: tuple[str, ...] = ()
    head_noun_units: frozenset[str] = frozenset()
    build_verbs: tuple[str, ...] = ()
    built_count_not_after: tuple[str, ...] = ()
    no_topic_land: tuple[str, ...] = ()
    qualifier_noun_heads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rules_by_unit: dict[str, tuple[MetricRule, ...]] = field(default_factory=dict)
    unit_regex: re.Pattern[str] = field(default=re.compile(r"(?!)"), compare=False)
    # Derived look-ups (speed only; see __post_init__): the first characters of the qualifiers
    # after a figure, the last ones of those before it (``None`` when a word is empty), a regex
    # finding any qualifier before, and the subject's prefix and suffix patterns.
    qualifier_after_heads: frozenset[str] | None = field(default=None, compare=False)
    qualifier_before_tails: frozenset[str] | None = field(default=None, compare=False)
    qualifier_before_regex: re.Pattern[str] | None = field(default=None, compare=False)
    subject_head: re.Pattern[str] = field(default=re.compile(r"^\b\B"), compare=False)
    subject_tail: re.Pattern[str] = field(default=re.compile(r"^\b\B"), compare=False)

    def __post_init__(self) -> None:
        after, before = tuple(self.qualifiers_after), tuple(self.qualifiers_before)
        if all(after):
            object.__setattr__(self, "qualifier_after_heads", frozenset(w[0] for w in after))
        if all(before):
            object.__setattr__(self, "qualifier_before_tails", frozenset(w[-1] for w in before))
        object.__setattr__(self, "qualifier_before_regex", keyword_pattern(before))
        prefixes, suffixes = self.subject_strip_prefixes, self.subject_strip_suffixes
        if prefixes:
            object.__setattr__(self, "subject_head", re.compile("^(?:" + "|".join(map(re.escape, prefixes)) + ")+"))
        if suffixes:
            # (the same matches as the alternation longest first: it must reach the end anyway)
            object.__setattr__(self, "subject_tail", re.compile("(?:" + trie_pattern(suffixes).pattern + ")+$"))
        units = {base for base, _ in self.units.values()}
        for unit in units:
            self.rules_by_unit[unit] = tuple(r for r in self.metric_rules if not r.units or unit in r.units)
        # Surface units in dictionary order (longest first): ``match`` gives what a loop of
        # ``startswith`` over ``units`` would find first.
        if self.units:
            object.__setattr__(self, "unit_regex", re.compile("|".join(re.escape(u) for u in self.units)))

    def classify(self, left: str, right: str, unit: str) -> tuple[str, str | None]:
        """(metric key, topic or ``None`` when the rule leaves it open) for a figure's words."""
        context = f"{left} {right}"
        rules = self.rules_by_unit.get(unit)
        if rules is None:
            rules = tuple(r for r in self.metric_rules if not r.units or unit in r.units)
        for rule in rules:  # units already fit (rules_by_unit)
            if rule.left_regex is not None and not rule.left_regex.search(left):
                continue
            if rule.keyword_regex is not None and rule.keyword_regex.search(context) is None:
                continue
            return rule.metric, rule.topic or self.metric_topics.get(rule.metric)
        return "other", None

    def topic_of(self, text: str) -> str | None:
        """The first topic whose keyword occurs in ``text``."""
        for rule in self.topic_rules:
            if rule.keyword_regex is not None and rule.keyword_regex.search(text):
                return rule.topic
        return None


def _by_length(mapping: dict[str, str]) -> dict[str, str]:
    return dict(sorted(mapping.items(), key=lambda item: -len(item[0])))


def lexicon_from_dict(data: dict, name: str = "metrics.json") -> MetricLexicon:
    """Build a lexicon from the parsed JSON (validated first, see :mod:`~streams.pipeline.rulemodels`;
    longest surface forms first where order matters)."""
    data = validated(MetricsRules, data, name)
    rules = tuple(
        MetricRule(
            metric=r["metric"],
            keywords=tuple(r.get("keywords", ())),
            units=tuple(r.get("units", ())),
            left_regex=re.compile(r["left_regex"]) if r.get("left_regex") else None,
            topic=r.get("topic"),
        )
        for r in data["metric_rules"]
    )
    units = {k: (v[0], float(v[1])) for k, v in sorted(data["units"].items(), key=lambda kv: -len(kv[0]))}
    return MetricLexicon(
        version=str(data.get("version", "")),
        units=units,
        units_needing_context=dict(data.get("units_needing_context", {})),
        bare_count_nouns={k: tuple(sorted(v, key=len, reverse=True)) for k, v in data["bare_count_nouns"].items()},
        qualifiers_before=_by_length(data["qualifiers_before"]),
        qualifiers_after=_by_length(data["qualifiers_after"]),
        qualifier_verbs=tuple(data.get("qualifier_verbs", ())),
        name_suffixes=tuple(data.get("name_suffixes", ())),
        excluded_after_ge=tuple(data.get("excluded_after_ge", ())),
        build_verbs=tuple(data.get("build_verbs", ())),
        built_count_not_after=tuple(data.get("built_count_not_after", ())),
        no_topic_land=tuple(data.get("no_topic_land", ())),
        metric_rules=rules,
        metric_topics=dict(data.get("metric_topics", {})),
        topic_rules=tuple(TopicRule(r["topic"], tuple(r["keywords"])) for r in data["topic_rules"]),
        subject_strip_prefixes=tuple(sorted(data.get("subject_strip_prefixes", ()), key=len, reverse=True)),
        subject_strip_suffixes=tuple(sorted(data.get("subject_strip_suffixes", ()), key=len, reverse=True)),
        bare_count_nouns_before={
            k: tuple(sorted(v, key=len, reverse=True)) for k, v in data.get("bare_count_nouns_before", {}).items()
        },
        enumerated_count_units=tuple(data.get("enumerated_count_units", ())),
        head_noun_units=frozenset(data.get("head_noun_units", ())),
        qualifier_noun_heads={k: tuple(v) for k, v in data.get("qualifier_noun_heads", {}).items()},
    )


@lru_cache(maxsize=8)
def load_metric_lexicon(path: Traversable = DEFAULT_METRICS_PATH) -> MetricLexicon:
    """Read a ``metrics.json`` (default: the shipped one); cached per path."""
    return lexicon_from_dict(read_json(path), path.name)

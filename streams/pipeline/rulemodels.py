"""The rules files as validated models: a misspelt key, an unknown topic or qualifier, a regex that
does not compile or a metric rule on a unit no surface form gives is an error when the rules are
loaded, in one line naming the file and the key (:class:`RulesError`).

``metrics.json`` → :class:`MetricsRules`, ``topics.json`` → :class:`TopicsRules`, ``flags.json`` →
:class:`FlagsRules`; the loaders in :mod:`~streams.pipeline.lexicon`, :mod:`~streams.pipeline.classify`
and :mod:`~streams.pipeline.flags` compile the validated data.
"""

from __future__ import annotations

import json
import re
from importlib.resources.abc import Traversable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Topic = Literal["产业", "健康", "教育", "就业"]
TopicOrOther = Literal["产业", "健康", "教育", "就业", "other"]
QualifierKind = Literal["approx", "at_least", "at_most", "exact"]
#: A word the stages look for in the text: never empty (an empty word would match everywhere).
Term = Annotated[str, Field(min_length=1)]


class RulesError(ValueError):
    """A rules file that cannot be used, described in one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return pattern


class MetricRuleModel(_Strict):
    metric: str = Field(min_length=1)
    keywords: list[Term] = []
    units: list[str] = []
    left_regex: str | None = None
    topic: TopicOrOther | None = None

    @field_validator("left_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)


class TopicRuleModel(_Strict):
    topic: TopicOrOther
    keywords: list[Term] = Field(min_length=1)


class MetricsRules(_Strict):
    """``metrics.json`` (see its ``comment`` for how the rules apply)."""

    version: str
    comment: str = ""
    units: dict[str, tuple[str, float]] = Field(min_length=1)
    units_needing_context: dict[str, str] = {}
    bare_count_nouns: dict[str, list[str]]
    bare_count_nouns_before: dict[str, list[str]] = {}
    enumerated_count_units: list[str] = []
    head_noun_units: list[str] = []
    qualifier_noun_heads: dict[str, list[str]] = {}
    qualifiers_before: dict[str, QualifierKind]
    qualifiers_after: dict[str, QualifierKind]
    qualifier_verbs: list[str] = []
    name_suffixes: list[str] = []
    excluded_after_ge: list[str] = []
    build_verbs: list[str] = []
    built_count_not_after: list[str] = []
    no_topic_land: list[str] = []
    metric_rules: list[MetricRuleModel]
    metric_topics: dict[str, TopicOrOther] = {}
    topic_rules: list[TopicRuleModel]
    subject_strip_prefixes: list[str] = []
    subject_strip_suffixes: list[str] = []

    @model_validator(mode="after")
    def _units_known(self) -> MetricsRules:
        base_units = {base for base, _ in self.units.values()}
        for index, rule in enumerate(self.metric_rules):
            unknown = sorted(set(rule.units) - base_units)
            if unknown:
                raise ValueError(f"metric_rules.{index}.units: {unknown[0]!r} is no base unit of `units`")
        for field_name in ("bare_count_nouns", "bare_count_nouns_before"):
            unknown = sorted(set(getattr(self, field_name)) - base_units)
            if unknown:
                raise ValueError(f"{field_name}: {unknown[0]!r} is no base unit of `units`")
        return self


class ThresholdsModel(_Strict):
    min_score: float
    relative: float
    repeat_factor: float
    max_repeats: int
    list_factor: float
    list_marks: str
    short_chars: int
    short_min_score: float


class DocumentModel(_Strict):
    min_score: float


class MetricEvidenceModel(_Strict):
    weight: float = 0.0
    cap: int = 0


class HeadingModel(_Strict):
    max_chars: int
    weight: float
    lead_weight: float
    scope: int
    exclude: list[str]
    inline: list[str]
    cues: dict[Topic, list[Term]] = {}

    @field_validator("exclude", "inline")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return [_compiles(pattern) for pattern in value]


class TopicsRules(_Strict):
    """``topics.json``: weighted terms per topic, thresholds, headings."""

    version: str
    description: str = ""
    labels: list[Topic] = Field(min_length=1)
    thresholds: ThresholdsModel
    document: DocumentModel
    metrics: MetricEvidenceModel = MetricEvidenceModel()
    heading: HeadingModel
    neutral: list[Term] = []
    terms: dict[Topic, dict[Term, float]]


#: Where a consistency rule is checked: one figure on its own (row), the figures of one article
#: together (document) — both by :mod:`~streams.pipeline.flags` — or all facts in ClickHouse (corpus).
FlagScope = Literal["row", "document", "corpus"]


class _FlagRule(_Strict):
    """What every consistency rule of ``flags.json`` has besides its parameters."""

    scope: FlagScope
    explanation: str = Field(min_length=1)  # one short Chinese sentence for the dashboard
    explanation_en: str = Field(min_length=1)


class RateAbove100Params(_Strict):
    units: list[str] = Field(min_length=1)
    max_value: float
    growth_metrics: list[str] = []
    growth_words: list[str] = []
    ratio_words: list[str] = []


class RateAbove100Rule(_FlagRule):
    id: Literal["rate_above_100"]
    params: RateAbove100Params


class PartAboveTotalParams(_Strict):
    cue_words: list[str] = Field(min_length=1)
    part_ends: list[str] = []
    approx_factor: float = Field(ge=1)
    exempt_units: list[str] = []
    exempt_words: list[str] = []


class PartAboveTotalRule(_FlagRule):
    id: Literal["part_above_total"]
    params: PartAboveTotalParams


class HouseholdsAbovePeopleParams(_Strict):
    household_unit: str = Field(min_length=1)
    people_unit: str = Field(min_length=1)
    approx_factor: float = Field(ge=1)
    gaps: list[str] = []
    brackets: list[tuple[str, str]] = []


class HouseholdsAbovePeopleRule(_FlagRule):
    id: Literal["households_above_people"]
    params: HouseholdsAbovePeopleParams


class PerCapitaAboveTotalParams(_Strict):
    per_capita_words: list[str] = Field(min_length=1)
    total_words: list[str] = Field(min_length=1)
    approx_factor: float = Field(ge=1)
    exempt_words: list[str] = []


class PerCapitaAboveTotalRule(_FlagRule):
    id: Literal["per_capita_above_total"]
    params: PerCapitaAboveTotalParams


class MedianOutlierParams(_Strict):
    factor: float = Field(gt=1)
    min_facts: int = Field(ge=2)
    #: metric keys a region has one value of in a year (compared across facts with the same subject)
    metrics: list[str] = Field(min_length=1)


class MedianOutlierRule(_FlagRule):
    id: Literal["median_outlier"]
    params: MedianOutlierParams


class PovertyRateAfterExitParams(_Strict):
    metric: str = Field(min_length=1)
    exit_words: list[str] = Field(min_length=1)


class PovertyRateAfterExitRule(_FlagRule):
    id: Literal["poverty_rate_after_exit"]
    params: PovertyRateAfterExitParams


FlagRuleModel = Annotated[
    RateAbove100Rule | PartAboveTotalRule | HouseholdsAbovePeopleRule | PerCapitaAboveTotalRule
    | MedianOutlierRule | PovertyRateAfterExitRule,
    Field(discriminator="id"),
]
#: Rules only ClickHouse evaluates (across facts): Python has no code for them.
CORPUS_ONLY_RULES = frozenset({"median_outlier", "poverty_rate_after_exit"})


class FlagsRules(_Strict):
    """``flags.json``: every consistency rule, its scope, explanation and parameters."""

    version: str
    comment: str = ""
    rules: list[FlagRuleModel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_and_scopes(self) -> FlagsRules:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules.{index}.id: {rule.id!r} is listed twice")
            seen.add(rule.id)
            if rule.id in CORPUS_ONLY_RULES and rule.scope != "corpus":
                raise ValueError(f"rules.{index}.scope: {rule.id!r} is evaluated in ClickHouse only (corpus)")
        return self


def validated(model: type[_Strict], data: Any, name: str) -> dict[str, Any]:
    """``data`` checked against ``model``, as plain data with defaults filled in; RulesError
    naming ``name`` and the first wrong key otherwise."""
    try:
        return model.model_validate(data).model_dump()
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        if error["loc"]:  # a check of the whole file names its key in the message itself
            message = ".".join(str(part) for part in error["loc"]) + ": " + message
        raise RulesError(f"rules file {name}: {message}") from None


def read_json(path: Traversable) -> Any:
    """A rules file's JSON; RulesError naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"rules file {path.name}: not valid JSON ({exc})") from None

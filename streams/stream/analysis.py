"""The process-wide analysis pipeline for the stream and the commands, built from Settings.

``Pipeline.version`` (written into every row, used for replay dedup) is
``<streams.__version__>+r<rules hash>``; :func:`build_pipeline` is the one place that gives the
pipeline the code version.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from streams import __version__
from streams.pipeline.analyzer import Pipeline
from streams.pipeline.types import DEFAULT_LIMITS, Limits
from streams.settings import Settings


def build_pipeline(rules_dir: Path | None = None, segmenter: str = "rjieba", limits: Limits = DEFAULT_LIMITS) -> Pipeline:
    """A new pipeline with this code version and the rules of ``rules_dir`` (over the shipped ones)."""
    return Pipeline(rules_dir=rules_dir, segmenter=segmenter, code_version=__version__, limits=limits)


@lru_cache(maxsize=8)
def _cached_pipeline(rules_dir: Path | None, segmenter: str, limits: Limits) -> Pipeline:
    return build_pipeline(rules_dir, segmenter, limits)


def pipeline_limits(settings: Settings) -> Limits:
    """The work one document may cause, as configured."""
    return Limits(settings.max_figures_per_sentence, settings.max_figures_per_doc)


def get_pipeline(settings: Settings) -> Pipeline:
    """The process-wide pipeline for ``settings`` (cached per rules_dir, segmenter and limits)."""
    return _cached_pipeline(settings.rules_dir, settings.segmenter, pipeline_limits(settings))

"""The metrics dictionary (``sql/metrics.yml``): every KPI named once.

Shape borrowed from dbt's semantic layer: each metric has a ``type`` (simple, ratio, derived,
cumulative), a formula in words, grain, unit and the direction of "good", plus the mart
table/columns the goals engine reads it from. Goals, docs and the warehouse catalogue all
read this file; a name that is not here does not exist.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

Aggregation = Literal["sum", "last", "mean", "median", "ratio", "growth"]


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str
    type: Literal["simple", "ratio", "derived", "cumulative"]
    description: str
    formula: str
    grain: str
    unit: Literal["count", "percent", "seconds", "minutes", "currency", "ratio", "score"]
    direction: Literal["increase", "decrease"]
    objectives: list[str] = Field(default_factory=list)  # goal objectives this KPI is relevant to
    sources: list[str] = Field(default_factory=list)     # upstream models
    # Where the goals engine reads it (schema `marts`), and how a period/scope rolls up:
    #   sum/mean/median/last -> `column`; ratio -> sum(numerator) / sum(denominator) * scale;
    #   growth -> (last(column) - first(column)) / first(column) * 100 over the period.
    table: str
    time_column: str = "date"
    dimensions: list[str] = Field(default_factory=list)
    aggregation: Aggregation
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0

    @model_validator(mode="after")
    def _check(self) -> Metric:
        names = [self.name, self.table, self.time_column, *self.dimensions]
        names += [c for c in (self.column, self.numerator, self.denominator) if c]
        bad = [n for n in names if not _IDENTIFIER.match(n)]
        if bad:
            raise ValueError(f"metric {self.name!r}: not a plain lowercase identifier: {bad}")
        if self.aggregation == "ratio" and not (self.numerator and self.denominator):
            raise ValueError(f"metric {self.name!r}: aggregation 'ratio' needs numerator and denominator")
        if self.aggregation != "ratio" and not self.column:
            raise ValueError(f"metric {self.name!r}: aggregation {self.aggregation!r} needs column")
        return self


class MetricsDictionary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: list[Metric]

    def by_name(self) -> dict[str, Metric]:
        return {m.name: m for m in self.metrics}

    def get(self, name: str) -> Metric:
        found = self.by_name().get(name)
        if found is None:
            valid = ", ".join(sorted(self.by_name()))
            raise KeyError(f"unknown KPI {name!r}; valid KPIs: {valid}")
        return found


def load_metrics(path: Path) -> MetricsDictionary:
    return _load(Path(path).resolve(), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int) -> MetricsDictionary:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}   # libyaml when built
    dictionary = MetricsDictionary.model_validate(data)
    names = [m.name for m in dictionary.metrics]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: KPI names defined more than once: {dupes}")
    return dictionary

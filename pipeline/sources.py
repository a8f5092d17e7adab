"""``sources.yml``: which platform accounts are pulled, which entities, with which connection.

``load_sources(path)`` validates the file with pydantic and fails with the file path and the
offending key (``sources.yml: sources.tiktok.entities.0: unknown entity 'videos'``).
``defaults`` apply to every source unless the source overrides them.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.schemas import ENTITIES, PLATFORMS

_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class SourcesConfigError(ValueError):
    pass


class RepullPolicy(BaseModel):
    """Which posts get a fresh lifetime snapshot on a pull day (platforms keep counting long after a post).

    Every post younger than ``days`` is re-pulled on every run; older posts up to ``slow_days`` old are re-pulled
    every ``slow_every`` days of their age (so the slow load spreads over the week); older ones never again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=28, ge=1, le=365)
    slow_days: int = Field(default=180, ge=0, le=3650)
    slow_every: int = Field(default=7, ge=1, le=365)

    def wants(self, age_days: int) -> bool:
        """Whether a post ``age_days`` old (pull day minus its UTC creation day) is re-pulled."""
        if age_days < self.days:
            return age_days >= 0
        return age_days < self.slow_days and (age_days - self.days) % self.slow_every == 0


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str
    connection_id: str
    accounts: list[str] = Field(min_length=1)
    entities: list[str] = Field(min_length=1)
    start_date: date
    revision_days: int = Field(ge=0, le=90)
    schedule: str = "@daily"
    pool_slots: int = Field(default=1, ge=1)
    post_repull: RepullPolicy = Field(default_factory=RepullPolicy)
    options: dict[str, Any] = Field(default_factory=dict)   # connector extras, e.g. brand / competitors

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; known: {', '.join(PLATFORMS)}")
        return value

    @field_validator("accounts")
    @classmethod
    def _safe_accounts(cls, value: list[str]) -> list[str]:
        for account in value:
            if not _ACCOUNT.fullmatch(account):
                raise ValueError(f"account id {account!r} may only use letters, digits, '_', '.', '-'")
        if len(set(value)) != len(value):
            raise ValueError("account ids must be unique")
        return value

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        for entity in value:
            if entity not in ENTITIES:
                raise ValueError(f"unknown entity {entity!r}; known: {', '.join(ENTITIES)}")
        return value

    @field_validator("options")
    @classmethod
    def _tracked_competitors(cls, value: dict[str, Any]) -> dict[str, Any]:
        # competitor_account_daily (and X mentions) read these: usernames / organization ids, never URLs
        competitors = value.get("competitors", [])
        if not isinstance(competitors, list) or not all(isinstance(c, str | int) for c in competitors):
            raise ValueError("options.competitors must be a list of account handles, e.g. [rivalco, globex]")
        bad = [str(c) for c in competitors if not _ACCOUNT.fullmatch(str(c).lstrip("@"))]
        if bad:
            raise ValueError(f"options.competitors: {bad[0]!r} is not a handle (letters, digits, '_', '.', '-')")
        return value

    @model_validator(mode="after")
    def _provided(self) -> SourceConfig:
        from pipeline.connectors import CONNECTORS, provided_entities

        missing = [e for e in self.entities if e not in provided_entities(self.platform)]
        if missing:
            raise ValueError(f"{self.platform} does not provide {missing[0]!r}; it provides: "
                             f"{', '.join(provided_entities(self.platform))}")
        if CONNECTORS[self.platform].ACCOUNT_FROM_TOKEN and len(self.accounts) > 1:
            raise ValueError(f"{self.platform}: the token of connection '{self.connection_id}' identifies one account, "
                             f"so it cannot pull {len(self.accounts)} accounts ({', '.join(self.accounts)}); "
                             "list one account for this source")
        return self


def _location(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"])


def load_sources(path: Path | str) -> list[SourceConfig]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesConfigError(f"{path}: cannot read sources: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict):
        raise SourcesConfigError(f"{path}: expected a mapping with a 'sources' key")
    defaults = raw.get("defaults") or {}
    sources = []
    for platform, body in raw["sources"].items():
        try:
            sources.append(SourceConfig(platform=platform, **{**defaults, **(body or {})}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(filter(None, ["sources", str(platform), _location(first)]))
            raise SourcesConfigError(f"{path}: {where}: {first['msg']}") from None
        except TypeError as exc:
            raise SourcesConfigError(f"{path}: sources.{platform}: {exc}") from None
    return sources


def source_for(platform: str, path: Path | str) -> SourceConfig:
    for source in load_sources(path):
        if source.platform == platform:
            return source
    raise SourcesConfigError(f"{path}: no source for platform {platform!r}")

"""Where Goalpost keeps its files, read once from the environment.

Everything lives under one project-local folder (``GOALPOST_HOME``, default ``<repo>/var``)
so the embedded default needs nothing outside the checkout. Scale-out deployments point
``GOALPOST_HOME`` (or the individual ``GOALPOST_*`` variables) at a shared volume.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path
    lake_dir: Path
    warehouse_path: Path
    inbox_dir: Path
    archive_dir: Path
    quarantine_dir: Path
    state_dir: Path
    snapshots_dir: Path
    docs_dir: Path
    sql_dir: Path
    expectations_dir: Path
    sources_file: Path
    goals_file: Path
    metrics_file: Path
    api_base_url: str
    webhook_url: str | None = field(repr=False)      # may carry a token in its query or userinfo
    # Non-public webhook destinations the operator allowed (pipeline/webhooks.py): host names, IPs or networks
    # (GOALPOST_WEBHOOK_ALLOWED_HOSTS, comma separated), and the RFC 1918 / unique-local ranges as a whole
    # (GOALPOST_WEBHOOK_ALLOW_PRIVATE=1).
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_allow_private: bool = False
    # HMAC key of the X-Goalpost-Signature header (GOALPOST_WEBHOOK_SECRET); kept out of repr() and logs.
    webhook_secret: str | None = field(default=None, repr=False)
    # Body of goal events: generic JSON, or a Slack incoming-webhook message (GOALPOST_WEBHOOK_FORMAT=json|slack).
    webhook_format: str = "json"
    # Send the events of backfill runs (older as_of dates) instead of suppressing them (GOALPOST_NOTIFY_BACKFILL=1).
    notify_backfill: bool = False

    @property
    def raw_dir(self) -> Path:
        return self.lake_dir / "raw"

    @property
    def serving_path(self) -> Path:
        """The read-only copy of the published marts analysts and dashboards open (pipeline.serving)."""
        return self.home / "serving.duckdb"

    @property
    def mappings_dir(self) -> Path:
        """User mapping files for exports without a built-in format (pipeline.exports.registry)."""
        return self.home / "mappings"

    def ensure_dirs(self) -> None:
        for path in (self.lake_dir, self.inbox_dir, self.archive_dir, self.quarantine_dir,
                     self.state_dir, self.snapshots_dir, self.docs_dir, self.warehouse_path.parent):
            path.mkdir(parents=True, exist_ok=True)


def _path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else default


def get_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: ``os.environ``); cheap, so call it where needed."""
    env = dict(os.environ if env is None else env)
    home = _path(env, "GOALPOST_HOME", REPO_ROOT / "var")
    return Settings(
        home=home,
        lake_dir=_path(env, "GOALPOST_LAKE_DIR", home / "lake"),
        warehouse_path=_path(env, "GOALPOST_WAREHOUSE", home / "warehouse.duckdb"),
        inbox_dir=_path(env, "GOALPOST_INBOX_DIR", home / "inbox"),
        archive_dir=_path(env, "GOALPOST_ARCHIVE_DIR", home / "archive"),
        quarantine_dir=_path(env, "GOALPOST_QUARANTINE_DIR", home / "quarantine"),
        state_dir=_path(env, "GOALPOST_STATE_DIR", home / "state"),
        snapshots_dir=_path(env, "GOALPOST_SNAPSHOTS_DIR", home / "snapshots"),
        docs_dir=_path(env, "GOALPOST_DOCS_DIR", home / "docs"),
        sql_dir=_path(env, "GOALPOST_SQL_DIR", REPO_ROOT / "sql"),
        expectations_dir=_path(env, "GOALPOST_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
        sources_file=_path(env, "GOALPOST_SOURCES_FILE", REPO_ROOT / "sources.yml"),
        goals_file=_path(env, "GOALPOST_GOALS_FILE", REPO_ROOT / "goals.yml"),
        metrics_file=_path(env, "GOALPOST_METRICS_FILE", REPO_ROOT / "sql" / "metrics.yml"),
        api_base_url=env.get("GOALPOST_API_URL", "http://127.0.0.1:8765").rstrip("/"),
        webhook_url=env.get("GOALPOST_WEBHOOK_URL") or None,
        webhook_allowed_hosts=tuple(h for h in re.split(r"[,\s]+", env.get("GOALPOST_WEBHOOK_ALLOWED_HOSTS", ""))
                                    if h),
        webhook_allow_private=env.get("GOALPOST_WEBHOOK_ALLOW_PRIVATE", "").strip().lower()
        in ("1", "true", "yes", "on"),
        webhook_secret=env.get("GOALPOST_WEBHOOK_SECRET") or None,
        webhook_format=_webhook_format(env),
        notify_backfill=env.get("GOALPOST_NOTIFY_BACKFILL", "").strip().lower() in ("1", "true", "yes", "on"),
    )


WEBHOOK_FORMATS = ("json", "slack")


def _webhook_format(env: dict[str, str]) -> str:
    value = (env.get("GOALPOST_WEBHOOK_FORMAT") or "json").strip().lower()
    if value not in WEBHOOK_FORMATS:
        raise ValueError(f"GOALPOST_WEBHOOK_FORMAT={value!r} is not one of {', '.join(WEBHOOK_FORMATS)}; "
                         f"set it to json (generic JSON body) or slack (Slack incoming-webhook message)")
    return value

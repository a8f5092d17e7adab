"""Run ``sql/`` in DuckDB: raw Parquet views -> staging -> intermediate -> ``audit.kpi_*``.

Each SQL file is a dbt-style ``select``; the transform materialises it as a table named after the
file stem in the schema of its layer (``staging``, ``intermediate``, ``audit`` for ``sql/marts``),
in dependency order: layer first, then the references found in the SQL text.

Every model file is a Jinja template (as in dbt), rendered before its references are read:
- staging SQL is written once per entity, ``sql/staging/templates/stg_platform__<entity>.sql``, and
  rendered as ``staging.stg_<platform>__<entity>`` for every pair of ``raw_entities()`` with
  ``platform`` and ``timezone`` taken from ``pipeline.schemas`` (an unknown platform is an error);
  a concrete ``sql/staging/stg_<platform>__<entity>.sql`` overrides the template for that pair;
- ``union_staging('<entity>')`` expands to the union of that entity's staging tables, so a new
  platform needs no SQL file; ``value_columns`` and ``file_drop_platform`` are globals too;
- the macros of ``sql/macros/*.sql`` are globals of every model.

Full rebuild: ``create or replace table`` for every model, in one transaction.
Incremental (``changed`` = which platform days landed): every model knows its key and how to find
the keys a change touches (header directives below); the transform deletes those keys and inserts
them recomputed, all in one transaction. Staging reads only the changed Parquet partitions, so a
one-day change does not rescan the lake. Models none of whose inputs a change can reach (e.g. the staging of
an entity a platform never landed, and all that only reads it) are left as they are ("unchanged" in the run
report), and so are those whose inputs all came out of the run with the rows they had (a day re-read with the
same rows: each recomputed table is fingerprinted before and after, ``changed`` False in the report, and the
validation skips it). A full rebuild gives the same rows (tested byte for byte).

Header directives (leading ``--`` comment lines of a model):
    -- incremental_key: platform, date         columns that identify the rows a change replaces
    -- affected_keys: select ... from _changed  query returning those key columns; may continue on
    --     indented comment lines; may read ``_changed(platform, date)`` and any upstream model
    -- column <name>: <comment>                 column comment (``COMMENT ON COLUMN``)
    -- key_filtered_inputs: schema.table, ...   upstream relations whose rows for a key only feed that key:
    --     an incremental run reads only their rows with affected keys (the lever for big facts)
    -- key_filtered_since: <column> >= <query>  and only their rows with <column> at or after the date the
    --     query returns (may continue on indented lines; may read ``_changed``, ``_affected`` = the
    --     affected keys, upstream models and the model's own table as it stands before the run). The
    --     date is inlined as a literal so DuckDB skips whole row groups by their min/max (zonemaps).
    -- since_filtered_inputs: schema.table.column [- N], ...  upstream relations an incremental run reads only
    --     from the key_filtered_since date on (N days earlier for a look-back such as the previous day): for
    --     inputs a key reads beyond its own rows, which key filtering would cut (needs key_filtered_since); also
    --     for inputs whose rows cannot be matched to the model's key (e.g. file drops conformed to a network)
    -- materialized: view                       a view instead of a table (cheap unions; always current)
As in dbt, a model may render other SQL for an incremental run: ``{% if is_incremental() %}`` and ``{{ this }}``
(the model's own table as it stands before the run, minus the rows of the affected keys) let it insert only the
rows of its keys from the state it keeps, instead of recomputing from all history (int_post_metrics__snapshots).
Other leading comment lines form the table comment. Staging and intermediate models default to
``incremental_key: platform, partition_date`` (the lake partition each row came from).
Models without a key are rebuilt in full on every run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from pipeline import serving
from pipeline.schemas import ENTITY_COLUMNS, PLATFORM_TIMEZONES, PLATFORMS, columns_for, duckdb_type
from pipeline.settings import Settings
from pipeline.warehouse import transaction

log = logging.getLogger("goalpost.transform")

LAYERS = (("staging", "staging"), ("intermediate", "intermediate"), ("marts", "audit"))
CATALOGUE_SCHEMAS = ("raw", "staging", "intermediate", "audit", "marts")
# Peak RSS = DuckDB's limit + ~100 MB of process (W10M: 800MB -> 899 MiB rebuild, time within noise of 1GB: the
# snapshot window spills either way; 256MB -> 366 MiB incremental day, 192MB runs out). bench/RESULTS.md, DECISIONLOG.
DEFAULT_MEMORY_LIMIT = "800MB"
DEFAULT_INCREMENTAL_MEMORY_LIMIT = "256MB"

# Which entities each platform may land (the contract with the connectors); each gets a raw view.
# File drops land under platform=files with account_id '<network>.<account>' (pipeline.filedrop).
COMMON_ENTITIES = ("account_daily", "post", "post_metrics", "audience_demographics",
                   "mentions", "ad_spend", "leads", "applications")
EXTRA_ENTITIES = {"facebook": ("support_conversations",),
                  "ga4": ("web_sessions", "web_first_touch", "web_cohorts"),
                  "instagram": ("competitor_account_daily",), "linkedin": ("competitor_account_daily",)}
FILE_DROP_PLATFORM = "files"
FILE_DROP_ENTITIES = ("account_daily", "mentions", "post", "post_metrics", "orders", "competitor_account_daily",
                      "applications")

# Staging SQL is written once per entity: sql/staging/templates/stg_platform__<entity>.sql is rendered for
# every (platform, entity) of raw_entities(); a concrete sql/staging/stg_<platform>__<entity>.sql overrides it.
STAGING_TEMPLATES = Path("staging") / "templates"
STAGING_TEMPLATE_PREFIX = "stg_platform__"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_TIMEZONE = re.compile(r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")
_REFERENCE = re.compile(r"\b(raw|staging|intermediate|audit)\.([a-z_][a-z0-9_]*)\b")
# affected_keys may read what an upstream incremental table replaced this run: replaced_rows(schema.table)
_REPLACED_ROWS = re.compile(r"\breplaced_rows\(\s*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*\)")
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class TransformError(RuntimeError):
    """A model graph or model SQL problem, with the model named in the message."""


@dataclass
class Model:
    name: str
    schema: str
    layer_rank: int
    path: Path
    sql: str
    source: str = ""                                     # for messages: file name (+ platform if templated)
    # the model rendered with is_incremental() true (dbt's pattern), when that renders other SQL: what an
    # incremental run inserts for the affected keys; None: the same SQL serves both runs
    incremental_sql: str | None = None
    description: str = ""
    column_comments: dict[str, str] = field(default_factory=dict)
    materialized: str = "table"                          # table | view
    incremental_key: list[str] = field(default_factory=list)
    affected_keys: str | None = None
    key_filtered_inputs: list[str] = field(default_factory=list)   # "schema.table"
    key_filtered_since: tuple[str, str] | None = None   # (column, scalar query returning a date)
    since_filtered_inputs: dict[str, tuple[str, int]] = field(default_factory=dict)  # relation -> (column, days)
    references: set[str] = field(default_factory=set)   # "schema.table"
    replaced_inputs: list[str] = field(default_factory=list)  # "schema.table" read as replaced_rows(...)

    def __post_init__(self) -> None:
        self.source = self.source or self.path.name

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"


# ---------------------------------------------------------------- raw views over the lake

def raw_entities() -> list[tuple[str, str]]:
    """(platform, entity) pairs that get a ``raw.<platform>__<entity>`` view."""
    pairs = [(p, e) for p in PLATFORMS for e in (*COMMON_ENTITIES, *EXTRA_ENTITIES.get(p, ()))]
    return pairs + [(FILE_DROP_PLATFORM, e) for e in FILE_DROP_ENTITIES]


def _has_parquet(folder: Path) -> bool:
    """Any ``dt=*/*.parquet`` under ``folder``; stops at the first one (lakes have thousands)."""
    if not folder.is_dir():
        return False
    for day in os.scandir(folder):
        if day.is_dir() and day.name.startswith("dt=") and any(f.name.endswith(".parquet")
                                                               for f in os.scandir(day.path)):
            return True
    return False


def _literal(text: str) -> str:
    """A SQL string literal for DDL that cannot take parameters (paths from settings, comments)."""
    return "'" + text.replace("'", "''") + "'"


def _typed_columns(entity: str) -> list[str]:
    return [f"cast({c.name} as {duckdb_type(c)}) as {c.name}" for c in columns_for(entity)]


def _raw_select(entity: str, files: list[Path] | str | None, *, by_name: bool = False) -> str:
    """Select of the canonical columns + ``partition_date``; typed and empty when no file.

    Landing writes every file of an entity with the canonical schema, so the files are read by position of
    the first file's schema (binding reads one footer). ``by_name`` (``union_by_name``) reads every footer
    at each bind (~35 ms per 365 files, paid by every query through the view: 4 s of a W10M rebuild); it is
    used only for a lake whose files differ, which DuckDB reports as a schema mismatch (``run_transform``)."""
    columns = _typed_columns(entity)
    nulls = [re.sub(r"^cast\(\w+ ", "cast(null ", c) for c in columns]
    if not files:
        return "select " + ", ".join([*nulls, "cast(null as date) as partition_date"]) + " where false"
    if isinstance(files, str):
        source = _literal(files)
    else:
        source = "[" + ", ".join(_literal(str(f)) for f in files) + "]"
    scan = (f"read_parquet({source}, hive_partitioning = true, union_by_name = {str(by_name).lower()},"
            " hive_types = {'dt': date})")
    if by_name:
        # a canonical column none of the files has yet is NULL (typed by the empty side of the union)
        scan = (f"(select {', '.join(nulls)}, cast(null as date) as dt where false "
                f"union all by name select * from {scan})")
    return "select " + ", ".join([*columns, "cast(dt as date) as partition_date"]) + f" from {scan}"


BY_NAME_MARK = ", read by name"


def _create_raw_views(con: duckdb.DuckDBPyConnection, settings: Settings, by_name: set[str]) -> None:
    """(Re)create the ``raw`` views whose definition changed; a view over a glob sees new files anyway.

    Creating a view binds it (reads a file footer), so an unchanged view is kept; its comment records the
    definition. ``by_name``: raw relations whose files differ in schema (read with ``union_by_name``)."""
    con.execute("create schema if not exists raw")
    current = _raw_view_comments(con)
    for platform, entity in raw_entities():
        relation = f"raw.{platform}__{entity}"
        folder = settings.raw_dir / f"platform={platform}" / f"entity={entity}"
        glob = str(folder / "dt=*" / "*.parquet") if _has_parquet(folder) else None
        select = _raw_select(entity, glob, by_name=relation in by_name)
        comment = (f"{platform} {entity} rows as landed in the lake "
                   f"(definition {hashlib.sha256(select.encode()).hexdigest()[:16]}"
                   f"{BY_NAME_MARK if relation in by_name else ''})")
        if current.get(f"{platform}__{entity}") == comment:
            continue
        _create_raw_relation(con, f"create or replace view {relation} as {select}", relation)
        con.execute(f"comment on view {relation} is {_literal(comment)}")


def _raw_view_comments(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """``<platform>__<entity>`` -> comment of the raw views (their definition hash and read mode)."""
    return dict(con.execute("select view_name, comment from duckdb_views() "
                            "where schema_name = 'raw' and not internal").fetchall())


def _raw_views_read_by_name(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The raw views an earlier run had to read by name (mixed schemas): kept so until a full refresh."""
    return {f"raw.{name}" for name, comment in _raw_view_comments(con).items()
            if (comment or "").endswith(BY_NAME_MARK + ")")}


_MISMATCH_FILE = re.compile(r"platform=([a-z0-9_]+)/entity=([a-z_]+)/dt=")


class MixedSchemaError(TransformError):
    """The files of a raw relation differ in schema: the run is repeated reading them by name."""

    def __init__(self, relation: str, detail: str) -> None:
        super().__init__(f"{relation}: files differ in schema ({detail})")
        self.relation = relation


def _create_raw_relation(con: duckdb.DuckDBPyConnection, statement: str, relation: str) -> None:
    """Create a relation over the files of ``relation`` (a ``_raw_select``); a first file without a canonical
    column fails the bind: mixed schemas."""
    try:
        con.execute(statement)
    except duckdb.BinderException as exc:
        raise MixedSchemaError(relation, str(exc)) from exc


def _schema_mismatch(exc: BaseException) -> str | None:
    """The raw relation whose files differ in schema ('*' when DuckDB's message names no lake file), or None."""
    if isinstance(exc, MixedSchemaError):
        return exc.relation
    for error in (exc, exc.__cause__):
        text = str(error or "")
        if isinstance(error, duckdb.Error) and "schema mismatch" in text:
            found = _MISMATCH_FILE.search(text)
            return f"raw.{found.group(1)}__{found.group(2)}" if found else "*"
    return None


def _create_delta_raw_relations(con: duckdb.DuckDBPyConnection, settings: Settings,
                                changed: set[tuple[str, dt.date]], by_name: set[str]) -> dict[str, str]:
    """Temp views of only the changed partitions; returns raw relation -> delta view name (each staging table
    reads its view once)."""
    renames = {}
    for platform, entity in raw_entities():
        folder = settings.raw_dir / f"platform={platform}" / f"entity={entity}"
        files = sorted(f for p, day in changed if p == platform
                       for f in (folder / f"dt={day.isoformat()}").glob("*.parquet"))
        raw, relation = f"raw.{platform}__{entity}", f"_delta_raw__{platform}__{entity}"
        _create_raw_relation(con, f"create or replace temp view {relation} as "
                             f"{_raw_select(entity, files, by_name=raw in by_name)}", raw)
        renames[raw] = relation
    return renames


# ---------------------------------------------------------------- model headers

def _parse_header(model: Model) -> None:
    description: list[str] = []
    # directives that may continue on indented comment lines -> their lines
    continued: dict[str, list[str]] = {}
    continuing: str | None = None
    for line in model.sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        text = stripped[2:]
        if continuing and text.startswith("   "):
            continued[continuing].append(text.strip())
            continue
        continuing = None
        text = text.strip()
        if text.startswith("materialized:"):
            model.materialized = text.split(":", 1)[1].strip()
        elif text.startswith("incremental_key:"):
            model.incremental_key = [c.strip() for c in text.split(":", 1)[1].split(",") if c.strip()]
        elif text.startswith("key_filtered_inputs:"):
            model.key_filtered_inputs = [r.strip() for r in text.split(":", 1)[1].split(",") if r.strip()]
        elif text.startswith("since_filtered_inputs:"):
            for item in (i.strip() for i in text.split(":", 1)[1].split(",") if i.strip()):
                parsed = re.match(r"^([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)(?:\s*-\s*(\d+))?$", item)
                if not parsed:
                    raise TransformError(f"{model.source}: since_filtered_inputs item {item!r} must read "
                                         f"'schema.table.column' or 'schema.table.column - <days>'")
                model.since_filtered_inputs[parsed.group(1)] = (parsed.group(2), int(parsed.group(3) or 0))
        elif text.startswith(("affected_keys:", "key_filtered_since:")):
            continuing, _, first = text.partition(":")
            continued[continuing] = [first.strip()]
        elif text.startswith("column "):
            name, _, comment = text[len("column "):].partition(":")
            model.column_comments[name.strip()] = comment.strip()
        elif text:
            description.append(text)
    key_lines = continued.get("affected_keys", [])
    if "key_filtered_since" in continued:
        since = re.match(r"^([a-z_][a-z0-9_]*)\s*>=\s*(.+)$", " ".join(continued["key_filtered_since"]))
        if not since:
            raise TransformError(f"{model.source}: key_filtered_since must read '<column> >= <query>'")
        model.key_filtered_since = (since.group(1), since.group(2))
        if not model.key_filtered_inputs and not model.since_filtered_inputs:
            raise TransformError(f"{model.source}: key_filtered_since needs key_filtered_inputs or "
                                 f"since_filtered_inputs (the inputs it bounds)")
    if model.since_filtered_inputs and not model.key_filtered_since:
        raise TransformError(f"{model.source}: since_filtered_inputs needs key_filtered_since (the date to read from)")
    model.description = " ".join(description)
    if key_lines:
        affected = " ".join(key_lines)
        model.replaced_inputs = sorted({f"{s}.{t}" for s, t in _REPLACED_ROWS.findall(affected)})
        # a temp table of this run, not a reference: the upstream's rows before and after it ran
        model.affected_keys = _REPLACED_ROWS.sub(lambda m: _replaced_table(f"{m.group(1)}.{m.group(2)}"), affected)
    if model.materialized not in ("table", "view"):
        raise TransformError(f"{model.source}: materialized must be 'table' or 'view', "
                             f"not {model.materialized!r}")
    if model.materialized == "view":
        if model.incremental_key:
            raise TransformError(f"{model.source}: a view has no incremental_key")
        model.description = " ".join(description)
        return
    if not model.incremental_key and model.schema in ("staging", "intermediate"):
        model.incremental_key = ["platform", "partition_date"]
        model.affected_keys = "select distinct platform, date as partition_date from _changed"
    bad = [c for c in [*model.incremental_key, *model.column_comments] if not _IDENTIFIER.match(c)]
    if bad:
        raise TransformError(f"{model.source}: not a plain identifier in header: {bad}")
    if bool(model.incremental_key) != bool(model.affected_keys):
        raise TransformError(f"{model.source}: incremental_key and affected_keys go together")


# ---------------------------------------------------------------- Jinja: staging templates and unions

def staging_context(platform: str, entity: str) -> dict[str, str]:
    """Template values for one staging model; only platforms and time zones from pipeline.schemas."""
    known = (*PLATFORMS, FILE_DROP_PLATFORM)
    if platform not in known:
        raise ValueError(f"unknown platform {platform!r} for a staging template; known: {', '.join(known)}")
    if (platform, entity) not in raw_entities():
        raise ValueError(f"platform {platform!r} does not land entity {entity!r} (see raw_entities())")
    timezone = PLATFORM_TIMEZONES.get(platform, "")
    if not _TIMEZONE.match(timezone):
        raise ValueError(f"platform {platform!r}: no valid time zone in PLATFORM_TIMEZONES ({timezone!r})")
    return {"platform": platform, "timezone": timezone, "file_drop_platform": FILE_DROP_PLATFORM}


def staging_relations(entity: str, variant: str | None = None) -> list[str]:
    """``staging.stg_<platform>__<entity>[__<variant>]`` of every platform landing ``entity`` (Jinja global,
    e.g. for a header listing each of them)."""
    if entity not in ENTITY_COLUMNS:
        raise ValueError(f"unknown entity {entity!r}")
    suffix = f"__{variant}" if variant else ""
    return [f"staging.stg_{p}__{e}{suffix}" for p, e in raw_entities() if e == entity]


def union_staging(entity: str, variant: str | None = None) -> str:
    """``select * from staging.stg_<platform>__<entity>[__<variant>] union all by name ...`` over every platform
    landing ``entity`` (Jinja global for the ``int_*`` unions; a new platform needs no SQL)."""
    if entity not in ENTITY_COLUMNS:
        raise ValueError(f"union_staging: unknown entity {entity!r}")
    return "\n    union all by name\n    ".join(f"select * from {r}" for r in staging_relations(entity, variant))


def value_columns(entity: str, key: list[str]) -> list[str]:
    """The canonical columns of ``entity`` that are not its key, platform, account or schema version."""
    names = [c.name for c in columns_for(entity)]
    unknown = [c for c in key if c not in names]
    if unknown:
        raise ValueError(f"value_columns: {unknown} are not columns of {entity!r}")
    return [c for c in names if c not in ("platform", "account_id", "schema_version", *key)]


def jinja_environment(sql_dir: Path) -> jinja2.Environment:
    """Models are Jinja templates (as in dbt); macros in ``sql/macros/*.sql`` are globals."""
    # compiled templates are cached in the user's temp dir (keyed by source checksum): each run is a new
    # process (Airflow task, CLI), and compiling ~50 templates is most of discovering the models
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False, loader=jinja2.FileSystemLoader(str(sql_dir)),
                             bytecode_cache=jinja2.FileSystemBytecodeCache())
    env.globals.update(union_staging=union_staging, staging_relations=staging_relations, value_columns=value_columns,
                       file_drop_platform=FILE_DROP_PLATFORM, platform_timezones=dict(PLATFORM_TIMEZONES))
    for path in sorted((sql_dir / "macros").glob("*.sql")):
        try:
            module = env.get_template(path.relative_to(sql_dir).as_posix()).module
        except jinja2.TemplateError as exc:
            raise TransformError(f"macros/{path.name}: template error: {exc}") from exc
        env.globals.update({name: macro for name, macro in vars(module).items()
                            if isinstance(macro, jinja2.runtime.Macro)})
    return env


def render_model(env: jinja2.Environment, path: Path, source: str | None = None, **context: Any) -> str:
    """A model file rendered as a Jinja template, without a trailing ``;``."""
    try:
        sql = _template(env, path).render(**context)
    except (jinja2.TemplateError, ValueError) as exc:
        raise TransformError(f"{source or path.name}: template error: {exc}") from exc
    return sql.strip().rstrip(";")


def _template(env: jinja2.Environment, path: Path) -> jinja2.Template:
    """A file under the loader's folder is compiled once per environment (the loader caches it): a staging
    template serves every platform."""
    loader = env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        root = Path(loader.searchpath[0]).resolve()
        if path.resolve().is_relative_to(root):
            return env.get_template(path.resolve().relative_to(root).as_posix())
    return env.from_string(path.read_text(encoding="utf-8"))


def render_staging(sql_dir: Path, platform: str, entity: str,
                   env: jinja2.Environment | None = None, variant: str | None = None) -> str:
    """The staging SQL of one (platform, entity) from its entity template (``__<variant>``: a sibling template)."""
    context = staging_context(platform, entity)
    suffix = f"__{variant}" if variant else ""
    path = sql_dir / STAGING_TEMPLATES / f"{STAGING_TEMPLATE_PREFIX}{entity}{suffix}.sql"
    if not path.is_file():
        raise TransformError(f"no staging template for entity {entity!r}: {path}")
    return render_model(env or jinja_environment(sql_dir), path,
                        f"{STAGING_TEMPLATES.name}/{path.name} for {platform}", **context)


def _templated_staging(sql_dir: Path, env: jinja2.Environment) -> list[Model]:
    """One staging model per (platform, entity) of raw_entities() and template of that entity.

    ``stg_platform__<entity>.sql`` renders as ``stg_<platform>__<entity>``; a sibling
    ``stg_platform__<entity>__<variant>.sql`` (e.g. ``__landed``: every landed row, before the dedupe) as
    ``stg_<platform>__<entity>__<variant>``."""
    folder = sql_dir / STAGING_TEMPLATES
    templates: dict[tuple[str, str], Path] = {}
    unknown = []
    for path in sorted(folder.glob("*.sql")):
        entity, _, variant = path.stem.removeprefix(STAGING_TEMPLATE_PREFIX).partition("__")
        if not path.stem.startswith(STAGING_TEMPLATE_PREFIX) or entity not in ENTITY_COLUMNS \
                or (variant and not _IDENTIFIER.match(variant)):
            unknown.append(path.name)
        templates[(entity, variant)] = path
    if unknown:
        raise TransformError(f"{folder}: templates must be named {STAGING_TEMPLATE_PREFIX}<entity>.sql "
                             f"(or <entity>__<variant>.sql) for an entity of pipeline.schemas: {', '.join(unknown)}")
    models = []
    for platform, entity in raw_entities():
        for (template_entity, variant), path in templates.items():
            if template_entity == entity:
                suffix = f"__{variant}" if variant else ""
                source = f"{STAGING_TEMPLATES.name}/{path.name} for {platform}"
                models.append(Model(f"stg_{platform}__{entity}{suffix}", "staging", 0, path,
                                    render_staging(sql_dir, platform, entity, env, variant or None), source))
    return models


# ---------------------------------------------------------------- model discovery and ordering

def discover_models(sql_dir: Path) -> list[Model]:
    """All models under ``sql_dir`` in dependency order; raises TransformError on bad graphs.

    Every model file is rendered as a Jinja template; staging templates once per platform."""
    models: dict[str, Model] = {}
    env = jinja_environment(sql_dir)
    for rank, (folder, schema) in enumerate(LAYERS):
        for path in sorted((sql_dir / folder).glob("*.sql")):
            if not _IDENTIFIER.match(path.stem):
                raise TransformError(f"{path}: model file names must be lowercase identifiers")
            model = Model(path.stem, schema, rank, path, _render_for_run(env, path, schema, incremental=False))
            incremental_sql = _render_for_run(env, path, schema, incremental=True)
            model.incremental_sql = incremental_sql if incremental_sql != model.sql else None
            _parse_header(model)
            models[model.relation] = model
        if folder == "staging":
            for model in _templated_staging(sql_dir, env):
                # a concrete stg_<platform>__<entity>.sql (a platform that needs other SQL) wins
                if model.relation not in models:
                    _parse_header(model)
                    models[model.relation] = model
    raw = {f"raw.{p}__{e}" for p, e in raw_entities()}
    for model in models.values():
        body = "\n".join(line.split("--", 1)[0] for line in f"{model.sql}\n{model.incremental_sql or ''}".splitlines())
        refs = {f"{s}.{t}" for s, t in _REFERENCE.findall(body)}
        refs |= {f"{s}.{t}" for s, t in _REFERENCE.findall(model.affected_keys or "")}
        if model.key_filtered_since:
            refs |= {f"{s}.{t}" for s, t in _REFERENCE.findall(model.key_filtered_since[1])}
        unknown = sorted(r for r in refs if r not in models and r not in raw)
        if unknown:
            raise TransformError(f"model {model.relation} ({model.source}) references unknown "
                                 f"relation(s): {', '.join(unknown)}")
        model.references = {r for r in refs if r in models} - {model.relation}
    for model in models.values():
        for upstream in model.replaced_inputs:
            if upstream not in _read_through_views(models, model.references):
                raise TransformError(f"model {model.relation} ({model.source}): replaced_rows({upstream}) "
                                     f"needs the model to read {upstream} (directly or through views)")
            if models[upstream].materialized != "table" or not models[upstream].incremental_key:
                raise TransformError(f"model {model.relation} ({model.source}): replaced_rows({upstream}) needs "
                                     f"an incremental table (one with incremental_key)")
        stray = sorted((set(model.key_filtered_inputs) | set(model.since_filtered_inputs)) - model.references)
        if stray:
            raise TransformError(f"model {model.relation}: key_filtered_inputs / since_filtered_inputs not referenced: "
                                 f"{', '.join(stray)}")
        later = sorted(r for r in model.references if models[r].layer_rank > model.layer_rank)
        if later:
            raise TransformError(f"model {model.relation} references a later layer: {', '.join(later)}")
    return _topological(models)


def _render_for_run(env: jinja2.Environment, path: Path, schema: str, *, incremental: bool) -> str:
    """A model as a full (``incremental=False``) or an incremental run executes it. As in dbt, ``is_incremental()``
    says which, and ``this`` names the model's own table (as it stands before the run: an incremental model can
    read the state it keeps, e.g. each post's values before the snapshots it recomputes)."""
    return render_model(env, path, is_incremental=lambda: incremental, this=f"{schema}.{path.stem}")


def _read_through_views(models: Mapping[str, Model], relations: Iterable[str]) -> set[str]:
    """The models among ``relations`` and, for the views among them, the models they read (transitively)."""
    read: set[str] = set()
    pending = sorted(relations)
    while pending:
        relation = pending.pop()
        if relation in read or relation not in models:
            continue
        read.add(relation)
        if models[relation].materialized == "view":
            pending += sorted(models[relation].references)
    return read


def _topological(models: dict[str, Model]) -> list[Model]:
    ordered: list[Model] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + [name]
            raise TransformError("dependency cycle between models: " + " -> ".join(cycle))
        state[name] = "visiting"
        for ref in sorted(models[name].references):
            visit(ref, [*path, name])
        state[name] = "done"
        ordered.append(models[name])

    for name in sorted(models, key=lambda n: (models[n].layer_rank, n)):
        visit(name, [])
    return ordered


# ---------------------------------------------------------------- changed partitions

def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    return _as_date(dt.datetime.fromisoformat(text)) if "T" in text or " " in text \
        else dt.date.fromisoformat(text)


def normalise_changed(changed: Any) -> set[tuple[str, dt.date]]:
    """Accepts ``{platform: [dates]}``, ``[(platform, date), ...]`` or ingest summaries
    (``{"platform", "since", "until"}`` with ``until`` exclusive, plus the pull day of their lifetime
    ``snapshot``, which lands outside the window) -> {(platform, date)}."""
    pairs: set[tuple[str, dt.date]] = set()
    if isinstance(changed, Mapping) and "platform" not in changed:
        items: Iterable[Any] = [(p, d) for p, days in changed.items() for d in days]
    elif isinstance(changed, Mapping):
        items = [changed]
    else:
        items = changed
    for item in items:
        if isinstance(item, Mapping):
            platform = item["platform"]
            if "dates" in item:
                pairs |= {(platform, _as_date(d)) for d in item["dates"]}
                continue
            if item.get("snapshot"):
                pairs.add((platform, _as_date(item["snapshot"]["pulled_on"])))
            since, until = item["since"], item["until"]
            first = _as_date(since)
            # `until` is exclusive: a window ending at midnight does not touch that day.
            last_moment = (dt.datetime.fromisoformat(str(until))
                           if not isinstance(until, dt.date) or isinstance(until, dt.datetime) else until)
            if isinstance(last_moment, dt.datetime):
                last = _as_date(last_moment - dt.timedelta(microseconds=1))
            else:
                last = last_moment - dt.timedelta(days=1)
            day = first
            while day <= last:
                pairs.add((platform, day))
                day += dt.timedelta(days=1)
        else:
            platform, day = item
            pairs.add((platform, _as_date(day)))
    known = (*PLATFORMS, FILE_DROP_PLATFORM)
    unknown = sorted({p for p, _ in pairs} - set(known))
    if unknown:
        raise ValueError(f"changed: unknown platform(s) {unknown}; known: {', '.join(known)}")
    return pairs


# ---------------------------------------------------------------- connection

def memory_limit(variable: str = "GOALPOST_DUCKDB_MEMORY_LIMIT", default: str = DEFAULT_MEMORY_LIMIT) -> str:
    value = os.environ.get(variable, default).strip()
    if not _MEMORY_LIMIT.match(value):
        raise ValueError(f"{variable}={value!r}: expected a size like '1GB' or '512MB'")
    return value


def incremental_memory_limit() -> str:
    """DuckDB's memory limit for an incremental run: small, because the buffer pool otherwise keeps every
    warehouse block the run read cached up to the full limit (W10M day: 450 MB peak RSS at 1GB, 366 MB at
    256MB, 341 MB at 224MB, same time; 192MB runs out). A run that needs more is repeated with the full limit, and
    one that runs out there too is replaced by a full rebuild (``run_transform``)."""
    return memory_limit("GOALPOST_DUCKDB_INCREMENTAL_MEMORY_LIMIT", DEFAULT_INCREMENTAL_MEMORY_LIMIT)


DEFAULT_BUSY_WAIT_S = 60.0
BUSY_RETRY_INTERVAL_S = 0.2
# DuckDB 2.0: 'IO Error: Could not set lock on file "<path>": Conflicting lock is held in <program> (PID <n>). ...'
_LOCK_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock")
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseBusy(TransformError):
    """Another process held the warehouse for longer than ``GOALPOST_WAREHOUSE_BUSY_WAIT``."""


def busy_wait() -> float:
    """Seconds a read-write ``connect`` waits for another process to release the warehouse
    (``GOALPOST_WAREHOUSE_BUSY_WAIT``, default 60)."""
    value = os.environ.get("GOALPOST_WAREHOUSE_BUSY_WAIT", "").strip()
    if not value:
        return DEFAULT_BUSY_WAIT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise TransformError(f"GOALPOST_WAREHOUSE_BUSY_WAIT={value!r} is not a number of seconds; "
                             "set it to e.g. 60 (0 = do not wait)")
    return seconds


def lock_holder(message: str) -> str | None:
    """Who holds the warehouse, from DuckDB's lock error (None: the error is not a lock conflict): the PID and,
    where /proc shows it, the command line (e.g. ``PID 4711: goalpost validate``), else DuckDB's program name."""
    if not _LOCK_CONFLICT.search(message):
        return None
    found = _LOCK_HOLDER.search(message)
    if found is None:
        return "a process DuckDB does not name"
    pid = found["pid"]
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        raw = b""
    argv = [a for a in raw.decode("utf-8", "replace").split("\0") if a]
    if argv:
        argv[0] = Path(argv[0]).name
        command = " ".join(argv)
        command = command if len(command) <= 120 else command[:117] + "..."
    else:
        command = Path(found["program"]).name
    return f"PID {pid}: {command}"


def open_warehouse(settings: Settings, *, read_only: bool = False,
                   config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` on the warehouse that waits for another process holding it.

    DuckDB lets one process write the file. A read-write open that finds it held by another process (DuckDB's
    lock conflict) retries for up to ``busy_wait()`` seconds, logging "warehouse busy" once, then raises
    ``WarehouseBusy`` (one line: which file, who holds it, what to do). Readers use the serving copy
    (``pipeline.serving``), never this file."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    deadline: float | None = None
    while True:
        try:
            return duckdb.connect(str(settings.warehouse_path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            holder = None if read_only else lock_holder(str(exc))
            if holder is None:
                raise
            now = time.monotonic()
            if deadline is None:
                wait = busy_wait()
                deadline = now + wait
                log.warning("warehouse busy (held by %s), retrying for up to %g s", holder, wait)
            if now >= deadline:
                raise WarehouseBusy(f"warehouse {settings.warehouse_path} is busy (another goalpost step holds "
                                    f"it: {holder}); try again when it finishes") from None
            time.sleep(min(BUSY_RETRY_INTERVAL_S, deadline - now))


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse connection of the transform, publish and snapshots: one config for every read-write
    connection of the process; waits while another process holds the file (``open_warehouse``)."""
    con = open_warehouse(settings, read_only=read_only, config={"memory_limit": memory_limit()})
    con.execute("set TimeZone = 'UTC'")   # timestamptz renders and casts the same everywhere
    # models never rely on row order (exports and tests order explicitly); unordered writes are faster
    con.execute("set preserve_insertion_order = false")
    return con


# ---------------------------------------------------------------- run

def _rename_refs(sql: str, renames: Mapping[str, str]) -> str:
    return _REFERENCE.sub(lambda m: renames.get(m.group(0), m.group(0)), sql)


def _replaced_table(relation: str) -> str:
    return "_replaced__" + relation.replace(".", "__")


def _key_join(alias_a: str, alias_b: str, key: list[str]) -> str:
    return " and ".join(f"{alias_a}.{c} = {alias_b}.{c}" for c in key)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                       [schema, name]).fetchall()[0][0] > 0


def _apply_comments(con: duckdb.DuckDBPyConnection, model: Model, schema: str,
                    metric_comments: Mapping[tuple[str, str], str]) -> None:
    relation = f"{schema}.{model.name}"
    if model.materialized == "view":
        # the definition hash lets the next run keep the view (see _create_view)
        con.execute(f"comment on view {relation} is {_literal(_view_comment(model))}")
    elif model.description:
        con.execute(f"comment on table {relation} is {_literal(model.description)}")
    columns = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?",
        [schema, model.name]).fetchall()]
    for column in columns:
        comment = model.column_comments.get(column) or metric_comments.get((model.name, column))
        if comment:
            con.execute(f"comment on column {relation}.{column} is {_literal(comment)}")


def _metric_comments(settings: Settings) -> dict[tuple[str, str], str]:
    """(table, column) -> '<label>: <formula>' from the metrics dictionary."""
    if not settings.metrics_file.exists():
        return {}
    comments: dict[tuple[str, str], str] = {}
    from pipeline.metrics import load_metrics  # pydantic + yaml: only when comments are written

    for metric in load_metrics(settings.metrics_file).metrics:
        # a ratio metric's own column (e.g. daily_er) carries the per-row value of the same formula
        column = metric.column or metric.name
        comments.setdefault((metric.table, column), f"{metric.label}: {metric.formula} ({metric.unit})")
    return comments


def select_models(models: list[Model], selectors: Iterable[str]) -> list[Model]:
    """The models ``selectors`` name, in dependency order, as dbt's ``--select``: ``kpi_post`` (or
    ``audit.kpi_post``) is that model, ``+kpi_post`` that model and every model it reads, directly or not."""
    by_relation = {m.relation: m for m in models}
    by_name: dict[str, list[str]] = {}
    for model in models:
        by_name.setdefault(model.name, []).append(model.relation)
    chosen: set[str] = set()
    for selector in selectors:
        name = selector.removeprefix("+")
        relations = [name] if name in by_relation else by_name.get(name, [])
        if not relations:
            raise TransformError(f"select {selector!r}: no model of that name under sql/ "
                                 f"(give a file stem like kpi_post or a relation like audit.kpi_post)")
        pending = list(relations)
        while pending:
            relation = pending.pop()
            if relation in chosen:
                continue
            chosen.add(relation)
            if selector.startswith("+"):
                pending += sorted(by_relation[relation].references)
    return [m for m in models if m.relation in chosen]


def run_transform(settings: Settings, *, full_refresh: bool = False, changed: Any = None,
                  select: Iterable[str] | None = None) -> dict:
    """Build staging -> intermediate -> ``audit.kpi_*``; incremental when ``changed`` is given.

    ``select`` (full builds only, e.g. the benchmark's like-for-like run): build only those models
    (``select_models``); an incremental run always covers every model, so ``changed`` excludes it.
    Returns ``{"mode", "models": [{"model", "rows", "ms", "mode"}], "changed", "ms"}`` (JSON-safe).
    """
    started = time.perf_counter()
    models = discover_models(settings.sql_dir)
    if select is not None:
        if changed is not None:
            raise ValueError("run_transform: select builds a subset in full; it cannot be combined with changed")
        models = select_models(models, select)
    changed_pairs = normalise_changed(changed) if changed is not None else set()
    con = connect(settings)
    try:
        for schema in ("raw", "staging", "intermediate", "audit", "marts"):
            con.execute(f"create schema if not exists {schema}")
        built = _built_with_current_layout(con, models)
        incremental = changed is not None and not full_refresh and built
        mode = "incremental" if incremental else "full"
        # a full refresh tries the fast read of every raw view again (a re-landed lake may be uniform now)
        by_name = set() if full_refresh else _raw_views_read_by_name(con)
        if incremental:
            # out of memory, the run is rolled back (nothing of the attempt stays) and tried again: incremental
            # with the full limit, then as a full rebuild (e.g. a week revised across 10x W10M's accounts: deleting
            # millions of keys needs more than the limit, while a rebuild spills and succeeds; slower, same rows)
            for attempt in range(3):
                try:
                    if attempt == 0:
                        # inside the try: DuckDB refuses a limit below what it holds already (then: the full limit)
                        con.execute(f"set memory_limit = {_literal(incremental_memory_limit())}")
                    results = _build_reading_mixed_schemas_by_name(con, settings, models, changed_pairs,
                                                                   incremental=attempt < 2, by_name=by_name)
                    break
                except (TransformError, duckdb.OutOfMemoryException) as exc:
                    if attempt == 2 or not _out_of_memory(exc):
                        raise
                    if attempt == 0:
                        log.warning("incremental run needs more than %s: repeating it with %s (%s)",
                                    incremental_memory_limit(), memory_limit(), exc)
                    else:
                        log.warning("incremental run needs more than %s too: rebuilding every model instead (%s)",
                                    memory_limit(), exc)
                        mode = "full"
                    # on a new connection: after an out-of-memory delete was rolled back, DuckDB refuses to delete
                    # the same rows again in that connection ("Conflict on tuple deletion", W10M at 4x history)
                    con.close()
                    con = connect(settings)
        else:
            results = _build_reading_mixed_schemas_by_name(con, settings, models, changed_pairs,
                                                           incremental=False, by_name=by_name)
    finally:
        con.close()
    return {
        "mode": mode,
        "models": results,
        "changed": sorted([p, d.isoformat()] for p, d in changed_pairs),
        "ms": round((time.perf_counter() - started) * 1000),
    }


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.OutOfMemoryException) or isinstance(exc.__cause__, duckdb.OutOfMemoryException)


def _build_reading_mixed_schemas_by_name(con: duckdb.DuckDBPyConnection, settings: Settings,
                                         models: list[Model], changed_pairs: set[tuple[str, dt.date]], *,
                                         incremental: bool, by_name: set[str]) -> list[dict]:
    """``_build``, repeated (rolled back first) with ``union_by_name`` for a raw entity whose files DuckDB
    finds to differ in schema (a lake part-way through a schema change): correct rows either way."""
    while True:
        try:
            return _build(con, settings, models, changed_pairs, incremental=incremental, by_name=by_name)
        except (TransformError, duckdb.Error) as exc:
            relation = _schema_mismatch(exc)
            if relation is None or relation in by_name or "*" in by_name:
                raise
            log.warning("files of %s differ in schema: repeating the run reading them by name (slower; a full "
                        "refresh tries the fast read again) (%s)", relation, exc)
            by_name.add(relation)
            if relation == "*":
                by_name.update(f"raw.{p}__{e}" for p, e in raw_entities())


def _build(con: duckdb.DuckDBPyConnection, settings: Settings, models: list[Model],
           changed_pairs: set[tuple[str, dt.date]], *, incremental: bool, by_name: set[str]) -> list[dict]:
    """One transaction: raw views, the models, then the comments of every re-created relation."""
    with transaction(con):
        _create_raw_views(con, settings, by_name)
        if incremental:
            results = _run_incremental(con, settings, models, changed_pairs, by_name)
        else:
            results = _run_full(con, models)
        # tables updated in place and views kept as they stood keep their comments; re-created ones need them
        recreated = {r["model"] for r in results if r["mode"] in ("full", "view") and not r.get("kept")}
        if recreated:
            metric_comments = _metric_comments(settings)
        for model in models:
            if model.relation in recreated:
                _apply_comments(con, model, model.schema, metric_comments)
        record_build(con, "incremental" if incremental else "full")    # committed with it (the publish gate)
    return results


def _built_with_current_layout(con: duckdb.DuckDBPyConnection, models: list[Model]) -> bool:
    """Every table model exists with the columns its header declares (``-- column``); a warehouse of an
    older layout (e.g. a table without a newly declared column) is rebuilt in full, never patched."""
    stored: dict[str, set[str]] = {}
    for schema, table, column in con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() c where exists "
            "(select 1 from duckdb_tables() t where t.schema_name = c.schema_name "
            "and t.table_name = c.table_name and t.database_name = c.database_name) "
            "and c.database_name = current_database()").fetchall():
        stored.setdefault(f"{schema}.{table}", set()).add(column)
    return all(m.relation in stored and set(m.column_comments) <= stored[m.relation]
               for m in models if m.materialized == "table")


def _log(model: Model, rows: int | None, started: float, mode: str, *, changed: bool = True) -> dict:
    """One line per model; ``changed`` False: the model ran and its rows came out as they were."""
    ms = round((time.perf_counter() - started) * 1000)
    log.info("%-12s %-48s %10s rows %7d ms%s", mode, model.relation, "-" if rows is None else rows, ms,
             "  (same rows)" if not changed and rows is not None else "")
    return {"model": model.relation, "rows": rows, "ms": ms, "mode": mode, "changed": changed}


def _run_model_sql(con: duckdb.DuckDBPyConnection, model: Model, sql: str, statement: str) -> Any:
    """Run ``statement`` with the model's select in place of ``{sql}`` (a plain replace: SQL has braces);
    returns the connection holding its result (an insert's row count)."""
    try:
        return con.execute(statement.replace("{sql}", sql, 1))
    except duckdb.Error as exc:
        raise TransformError(f"model {model.relation} ({model.source}) failed: {exc}") from exc


def _run_full(con: duckdb.DuckDBPyConnection, models: list[Model]) -> list[dict]:
    views = {f"{schema}.{name}" for schema, name in con.execute(
        "select schema_name, view_name from duckdb_views() where not internal").fetchall()}
    results = []
    for model in models:
        started = time.perf_counter()
        if model.materialized == "view":
            results.append(_create_view(con, model, started))
            continue
        if model.relation in views:     # left by an older layout: the model was a view then
            con.execute(f"drop view {model.relation}")
        _run_model_sql(con, model, model.sql, f"create or replace table {model.relation} as {{sql}}")
        rows = con.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
        results.append(_log(model, rows, started, "full"))
    return results


def _view_comment(model: Model) -> str:
    definition = f"(definition {hashlib.sha256(model.sql.encode()).hexdigest()[:16]})"
    return f"{model.description} {definition}".strip()


def _create_view(con: duckdb.DuckDBPyConnection, model: Model, started: float) -> dict:
    """Create the view unless it stands with the same definition: binding a view over the lake globs its
    files and reads a footer (every footer for a lake read by name), for nothing."""
    current = con.execute("select comment from duckdb_views() where schema_name = ? and view_name = ?",
                          [model.schema, model.name]).fetchall()
    if current and current[0][0] == _view_comment(model):
        return {**_log(model, None, started, "view"), "kept": True}
    # drop a table of the same name left by an older layout; views are not counted (that would run them)
    if _table_exists(con, model.schema, model.name):
        con.execute(f"drop table {model.relation}")
    _run_model_sql(con, model, model.sql, f"create or replace view {model.relation} as {{sql}}")
    return _log(model, None, started, "view")


def _key_filtered_since(con: duckdb.DuckDBPyConnection, model: Model, keys: str) -> dt.date | None:
    """The date the key-filtered inputs are read from, or None (no bound).

    Runs before the model's affected rows are deleted, so the query can read what the last run stored
    (e.g. each post's first partition). Inlined as a literal, not a subquery: DuckDB prunes row groups by
    zonemap only on constants."""
    if not model.key_filtered_since:
        return None
    _, query = model.key_filtered_since
    con.execute(f"create or replace temp view _affected as select * from {keys}")
    try:
        rows = con.execute(query).fetchall()
    except duckdb.Error as exc:
        raise TransformError(f"model {model.relation} ({model.source}) key_filtered_since failed: "
                             f"{exc}") from exc
    bound = rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else rows
    if bound is None:                       # nothing stored and nothing changed: no bound
        return None
    if not isinstance(bound, dt.date) or isinstance(bound, dt.datetime):
        raise TransformError(f"model {model.relation} ({model.source}): key_filtered_since query must "
                             f"return one date, got {rows!r}")
    return bound


def _touched_relations(con: duckdb.DuckDBPyConnection, settings: Settings, models: list[Model],
                       changed: set[tuple[str, dt.date]]) -> set[str]:
    """The relations whose rows this run can change: the rest keep their rows and are not rebuilt.

    A raw relation is touched when its platform changed and its entity was ever landed (a changed day is
    re-landed as a file, an emptied day as an empty file); a table reading raw is also touched when it holds
    rows of a changed platform (its lake folder may have been removed). Everything downstream of a touched
    relation is touched. An untouched model's inputs are as they were, so recomputing it changes nothing."""
    platforms = {p for p, _ in changed}
    touched = {f"raw.{p}__{e}" for p, e in raw_entities()
               if p in platforms and (settings.raw_dir / f"platform={p}" / f"entity={e}").is_dir()}
    holding_rows = {f"{schema}.{table}" for schema, table in con.execute(
        "select schema_name, table_name from duckdb_tables() where estimated_size > 0").fetchall()}
    for model in models:                                      # dependency order
        raw_refs = _raw_references(model)
        reads_changed_platform = any(r.removeprefix("raw.").split("__", 1)[0] in platforms for r in raw_refs)
        if (raw_refs & touched or model.references & touched
                or (reads_changed_platform and model.relation in holding_rows)):
            touched.add(model.relation)
    return touched


def _raw_references(model: Model) -> set[str]:
    """The raw views (the lake) ``model``'s SQL reads; ``Model.references`` holds only the other models."""
    return {f"raw.{t}" for s, t in _REFERENCE.findall(model.sql) if s == "raw"}


def _reads_refreshed_tables(model: Model, by_relation: Mapping[str, Model], touched: set[str]) -> bool:
    """Whether ``model``'s affected_keys query reads (directly or through views) a table that this run
    refreshes before the model's turn: then the keys must also be taken before the run."""
    read = _read_through_views(by_relation, {f"{s}.{t}" for s, t in _REFERENCE.findall(model.affected_keys or "")})
    return any(relation != model.relation and by_relation[relation].materialized != "view" and relation in touched
               for relation in read)


def _run_incremental(con: duckdb.DuckDBPyConnection, settings: Settings, models: list[Model],
                     changed: set[tuple[str, dt.date]], by_name: set[str]) -> list[dict]:
    con.execute("create or replace temp table _changed (platform varchar, date date)")
    if changed:
        con.executemany("insert into _changed values (?, ?)", sorted(changed))
    touched = _touched_relations(con, settings, models, changed)
    by_relation = {m.relation: m for m in models}
    renames = _create_delta_raw_relations(con, settings, changed, by_name)
    # Keys touched by the change, as the tables stand *before* the run (catches deleted rows), for the models
    # whose affected_keys read a table this run refreshes first; for the others, before == at their turn ...
    before_run = {m.relation for m in models if m.incremental_key and m.relation in touched
                  and _reads_refreshed_tables(m, by_relation, touched)}
    # replaced_rows(X) of a downstream affected_keys: X's rows before and after this run, of the keys X
    # recomputed (empty when X is untouched), so a rollup recomputes only the periods those rows fall in
    replaced = _replaced_columns(con, models)
    for relation, columns in sorted(replaced.items()):
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"create or replace temp table {_replaced_table(relation)} as "
                    f"select {quoted} from {relation} limit 0")
    for model in models:
        if model.relation in before_run:
            _run_model_sql(con, model, model.affected_keys,
                           f"create or replace temp table _keys__{model.schema}__{model.name} as {{sql}}")
    # the models whose rows this run really changed, so far: a model whose inputs all came out as they were
    # (a re-dropped export with the same rows, a change none of its keys reach) is not recomputed, and the
    # validation after the run skips it too; one reading the lake is taken as changed
    changed_rows: set[str] = set()
    results = []
    for model in models:
        started = time.perf_counter()
        reads_lake = bool(_raw_references(model))
        if model.materialized == "view":
            results.append(_create_view(con, model, started))
            if reads_lake or model.references & changed_rows:
                changed_rows.add(model.relation)
            continue
        if model.relation not in touched or not (reads_lake or model.references & changed_rows):
            results.append(_log(model, None, started, "unchanged", changed=False))
            continue
        if not model.incremental_key:
            before = _fingerprint(con, model.relation)
            _run_model_sql(con, model, model.sql, f"create or replace table {model.relation} as {{sql}}")
            rows = con.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
            same = before is not None and before == _fingerprint(con, model.relation)
            results.append(_log(model, rows, started, "full", changed=not same))
            if not same:
                changed_rows.add(model.relation)
            continue
        keys = f"_keys__{model.schema}__{model.name}"
        # ... and after the upstream models were refreshed (catches new rows).
        key_cols = ", ".join(model.incremental_key)
        if model.relation in before_run:
            _run_model_sql(con, model, model.affected_keys,
                           f"insert into {keys} {{sql}}")
            con.execute(f"create or replace temp table {keys} as select distinct {key_cols} from {keys}")
        else:
            _run_model_sql(con, model, model.affected_keys,
                           f"create or replace temp table {keys} as select distinct {key_cols} from ({{sql}})")
        if not con.execute(f"select exists (select 1 from {keys})").fetchall()[0][0]:
            # the change touches none of its keys
            results.append(_log(model, 0, started, "incremental", changed=False))
            continue
        before = _fingerprint(con, model.relation, keys, model.incremental_key)
        bound = _key_filtered_since(con, model, keys)
        since = ""
        if bound is not None:
            column = model.key_filtered_since[0]
            since = f" where _input.{column} >= date {_literal(bound.isoformat())}"
        if model.relation in replaced:
            _keep_replaced_rows(con, model, keys, replaced[model.relation])
        con.execute(f"delete from {model.relation} as t using {keys} as k "
                    f"where {_key_join('t', 'k', model.incremental_key)}")
        filtered = {ref: f"(select _input.* from {ref} as _input semi join {keys} as k "
                         f"on {_key_join('_input', 'k', model.incremental_key)}{since})"
                    for ref in model.key_filtered_inputs}
        if bound is not None:
            # inlined constants, so DuckDB pushes them into the scans (zonemaps) through views
            filtered |= {ref: f"(select * from {ref} where {column} >= date "
                              f"{_literal((bound - dt.timedelta(days=days)).isoformat())})"
                         for ref, (column, days) in model.since_filtered_inputs.items()}
        sql = _rename_refs(model.incremental_sql or model.sql, {**renames, **filtered})
        rows = _run_model_sql(con, model, sql,
                              f"insert into {model.relation} select m.* from ({{sql}}) as m semi join {keys} as k "
                              f"on {_key_join('m', 'k', model.incremental_key)}").fetchall()[0][0]
        if model.relation in replaced:
            _keep_replaced_rows(con, model, keys, replaced[model.relation])
        same = before is not None and before == _fingerprint(con, model.relation, keys, model.incremental_key)
        results.append(_log(model, rows, started, "incremental", changed=not same))
        if not same:
            changed_rows.add(model.relation)
    return results


# Rows above which a model's rows are taken as changed without comparing them: hashing them before and after
# would cost more than re-validating the table saves (W10M's incremental day replaces 340 k snapshots).
FINGERPRINT_MAX_ROWS = 100_000


def _fingerprint(con: duckdb.DuckDBPyConnection, relation: str, keys: str | None = None,
                 key: list[str] | None = None) -> tuple[int, int] | None:
    """Row count and the sum of the rows' 64-bit hashes (a multiset fingerprint: order-free, duplicates
    counted) of ``relation``, or of its rows with a key in the ``keys`` table; None above
    FINGERPRINT_MAX_ROWS. Equal before and after a run: the rows came out as they were (a different multiset
    with the same fingerprint has a chance of about 2^-64)."""
    where = f" semi join {keys} as _key on {_key_join('_row', '_key', key or [])}" if keys else ""
    rows = con.execute(f"select count(*) from {relation} as _row{where}").fetchall()[0][0]
    if rows > FINGERPRINT_MAX_ROWS:
        return None
    return con.execute(f"select count(*), coalesce(sum(hash(_row)::hugeint), 0) from {relation} as _row{where}"
                       ).fetchall()[0]


def _replaced_columns(con: duckdb.DuckDBPyConnection, models: list[Model]) -> dict[str, list[str]]:
    """relation -> the columns its replaced_rows table keeps: those the affected_keys reading it name (a
    third of the copy cost of whole rows on W10M's kpi_post; a column missed is a binder error, not a wrong
    key)."""
    readers: dict[str, set[str]] = {}
    for model in models:
        for relation in model.replaced_inputs:
            readers.setdefault(relation, set()).update(re.findall(r"[a-z_][a-z0-9_]*", model.affected_keys))
    kept = {}
    for relation, words in readers.items():
        schema, name = relation.split(".")
        columns = [r[0] for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
            "and database_name = current_database() order by column_index", [schema, name]).fetchall()]
        kept[relation] = [c for c in columns if c in words] or columns
    return kept


def _keep_replaced_rows(con: duckdb.DuckDBPyConnection, model: Model, keys: str, columns: list[str]) -> None:
    """Add the model's rows of ``keys`` as they stand now to its replaced_rows table (before the delete:
    the old rows; after the insert: the new ones)."""
    select = ", ".join(f't."{c}"' for c in columns)
    con.execute(f"insert into {_replaced_table(model.relation)} select {select} from {model.relation} as t "
                f"semi join {keys} as k on {_key_join('t', 'k', model.incremental_key)}")


# ---------------------------------------------------------------- publish and catalogue

def audited_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'audit' and table_name like 'kpi%' "
        "order by table_name").fetchall()]


BUILDS_DDL = """
create table if not exists ops.builds (
    build_id varchar not null,
    built_at timestamptz not null,
    mode varchar not null
)
"""


class PublishRefused(TransformError):
    """The gate did not pass the build the warehouse holds: nothing is published."""


def record_build(con: duckdb.DuckDBPyConnection, mode: str) -> str:
    """Give the build this transaction commits a new id in ``ops.builds`` (the newest row is the build the
    warehouse holds). ``quality.validate`` records the id it checked; ``publish`` copies only that build."""
    built_at = dt.datetime.now(dt.UTC)
    build_id = f"{built_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    con.execute("create schema if not exists ops")
    con.execute(BUILDS_DDL)
    con.execute("insert into ops.builds values (?, ?, ?)", [build_id, built_at, mode])
    return build_id


def current_build(con: duckdb.DuckDBPyConnection) -> str | None:
    """The id of the transform build the warehouse holds (None: no transform has committed one)."""
    if not _table_exists(con, "ops", "builds"):
        return None
    row = con.execute("select build_id from ops.builds "
                      "order by built_at desc, build_id desc limit 1").fetchone()
    return None if row is None else row[0]


def _when(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def check_gate(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The build the warehouse holds and the validation run that passed it; raises ``PublishRefused`` (one
    line: what, which run and build, what to do) when the latest validation is missing, failed its gate,
    checked only some tables, or checked another build."""
    build = current_build(con)
    if build is None:
        raise PublishRefused("publish refused: the warehouse holds no recorded transform build "
                             "(ops.builds is empty); run goalpost transform, then goalpost validate")
    latest = None
    if _table_exists(con, "ops", "validation_runs"):
        latest = con.execute(
            "select run_id, validated_at, build_id, scope, gate_passed, critical_failures "
            "from ops.validation_runs order by recorded_at desc, run_id desc limit 1").fetchone()
    if latest is None:
        raise PublishRefused(f"publish refused: no validation is recorded for build {build}; "
                             "run goalpost validate first")
    run_id, validated_at, validated_build, scope, passed, critical = latest
    run = f"the latest validation (run {run_id}, {_when(validated_at)})"
    if validated_build != build:
        raise PublishRefused(f"publish refused: {run} validated build {validated_build or '(none recorded)'} "
                             f"but the warehouse holds build {build}: run goalpost validate first")
    if scope is not None:
        raise PublishRefused(f"publish refused: {run} checked only {scope} of build {build}; "
                             "run goalpost validate (every table) first")
    if not passed:
        noun = "expectation" if critical == 1 else "expectations"
        raise PublishRefused(f"publish refused: {run} failed {critical} critical {noun} on build {build}; "
                             "fix the data and run goalpost validate")
    return {"build": build, "validation_run": run_id}


def publish(settings: Settings, *, require_gate: bool = True) -> dict:
    """Copy every audited ``audit.kpi_*`` into ``marts`` in one transaction (write-audit-publish), only when
    the latest validation passed the build the warehouse holds (``check_gate``; the check and the copy share
    one read-write connection, so no transform commits in between). ``require_gate=False`` is for tests that
    build marts without running the gate; the CLI and the DAG never pass it."""
    started = time.perf_counter()
    con = connect(settings)
    published: dict[str, int] = {}
    try:
        gate = check_gate(con) if require_gate else {"build": current_build(con), "validation_run": None}
        con.execute("create schema if not exists marts")
        with transaction(con):
            for table in audited_marts(con):
                if not _IDENTIFIER.match(table):
                    raise TransformError(f"audit.{table}: not a plain identifier")
                con.execute(f"create or replace table marts.{table} as select * from audit.{table}")
                comment = con.execute("select comment from duckdb_tables() where schema_name = 'audit' "
                                      "and table_name = ?", [table]).fetchall()[0][0]
                if comment:
                    con.execute(f"comment on table marts.{table} is {_literal(comment)}")
                for column, col_comment in con.execute(
                        "select column_name, comment from duckdb_columns() where schema_name = 'audit' "
                        "and table_name = ? and comment is not null", [table]).fetchall():
                    con.execute(f"comment on column marts.{table}.{column} is {_literal(col_comment)}")
                published[table] = con.execute(f"select count(*) from marts.{table}").fetchall()[0][0]
        # readers open the serving copy, never the warehouse: refresh it while this connection still holds the
        # warehouse, so the copy is exactly what was just published
        served = serving.write_serving(con, settings)
    finally:
        con.close()
    ms = round((time.perf_counter() - started) * 1000)
    log.info("published %d marts of build %s in %d ms", len(published), gate["build"], ms)
    return {"published": published, "ms": ms, **gate, "serving": served["path"]}


def catalogue(settings: Settings) -> list[dict]:
    """Every column of the warehouse (schema, table, column, type, comment) for ``goalpost docs``."""
    if not settings.warehouse_path.exists():
        return []
    con = connect(settings)
    try:
        rows = con.execute(
            "select c.schema_name, c.table_name, c.column_name, c.data_type, "
            "coalesce(c.comment, ''), coalesce(t.comment, v.comment, '') "
            "from duckdb_columns() c "
            "left join duckdb_tables() t on t.schema_name = c.schema_name and t.table_name = c.table_name "
            "left join duckdb_views() v on v.schema_name = c.schema_name and v.view_name = c.table_name "
            "where c.database_name = current_database() and list_contains(?, c.schema_name) "
            "order by c.schema_name, c.table_name, c.column_index",
            [list(CATALOGUE_SCHEMAS)]).fetchall()
    finally:
        con.close()
    return [{"schema": s, "table": t, "column": c, "type": ty, "comment": cm, "table_comment": tc}
            for s, t, c, ty, cm, tc in rows]

"""Typed, frozen configuration loaded from YAML in conf/, validated on load.

Two kinds of file:

* ``conf/envs/<env>.yaml`` -> :class:`EnvConfig`: where Spark, the lake and the catalog are.
* ``conf/jobs/<job>.yaml`` -> the job's own frozen dataclass (each job declares one).

Every key is checked against the dataclass: an unknown key, a wrong type or a missing required
value raises :class:`~lakeforge.errors.ConfigError` naming the key and the file. Command-line
overrides (``--input.path raw/x``) are applied before validation, so they are checked the same way.

Example::

    env = load_env("local")
    cfg = load_config(CsvToParquetConfig, "conf/jobs/csv_to_parquet.yaml",
                      overrides={"outputs.sales.table": "sales_v2"})
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from lakeforge.errors import ConfigError

T = TypeVar("T")

ENV_KINDS = ("local", "standalone", "emr", "glue")
_MISSING = dataclasses.MISSING


# --------------------------------------------------------------------------- env config


@dataclass(frozen=True)
class SparkSettings:
    """How to get a SparkSession. ``master`` None means getOrCreate on the cluster's Spark."""

    master: str | None = None
    metastore: Literal["derby", "glue", "none"] = "derby"
    conf: dict[str, str] = field(default_factory=dict)
    jars: list[str] = field(default_factory=list)
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "WARN"
    driver_memory: str | None = None
    # Add Splink's similarity-function jar (shipped inside the splink wheel) when splink is
    # installed; on EMR/Glue the jar travels with the deployment (--jars / --extra-jars).
    splink_jar: bool = True
    # Jar sets by name (deequ, delta, s3a, iceberg): jvm/<spark line>/<set>/pom.xml pins them,
    # `make jars` fetches them into .jars/ (lakeforge.jars). Local and standalone sessions only.
    # The YAML may give a list or a mapping from Spark line to list; load_env keeps the
    # installed line's list here (_line_jar_sets).
    jar_sets: list[str] = field(default_factory=list)
    # The embedded Derby metastore's local folder when the lake root is on s3:// (local and
    # standalone); a local lake keeps it in its metadata zone.
    metastore_dir: str | None = None


@dataclass(frozen=True)
class LakeSettings:
    """Where the lake lives: a local folder or ``s3://bucket/prefix``; zones may be relocated."""

    root: str = "./.lake"
    zones: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogSettings:
    """Which catalog backend registers tables and the default database."""

    backend: Literal["spark_sql", "glue_api"] = "spark_sql"
    database: str = "lakeforge"
    region: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class AwsSettings:
    """AWS client settings and server-side encryption passed through to EMRFS / Glue / S3A and
    every object Lakeforge writes itself (lakeforge.aws)."""

    region: str | None = None
    endpoint_url: str | None = None
    sse: Literal["none", "SSE-S3", "SSE-KMS"] = "none"
    kms_key_id: str | None = None
    # Create the lake's bucket when it is missing (a local moto / MinIO server); otherwise a
    # missing bucket fails the preflight.
    create_bucket: bool = False


@dataclass(frozen=True)
class EnvConfig:
    """One environment: conf/envs/<name>.yaml."""

    name: str
    kind: Literal["local", "standalone", "emr", "glue"]
    spark: SparkSettings = field(default_factory=SparkSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    source: str = ""


# --------------------------------------------------------------------------- locating files


def conf_dir() -> Path:
    """The conf/ folder: ``$LAKEFORGE_CONF_DIR``, else ./conf, else the one beside the package."""
    explicit = os.environ.get("LAKEFORGE_CONF_DIR")
    if explicit:
        return Path(explicit)
    cwd_conf = Path.cwd() / "conf"
    if (cwd_conf / "envs").is_dir():
        return cwd_conf
    return Path(__file__).resolve().parent.parent / "conf"


def conf_dir_problem() -> str:
    """Why a file looked up in conf/ cannot be there: ``$LAKEFORGE_CONF_DIR`` names no folder
    (appended to a "no such file" error), else ''."""
    explicit = os.environ.get("LAKEFORGE_CONF_DIR")
    if explicit and not Path(explicit).is_dir():
        return f" ($LAKEFORGE_CONF_DIR is {explicit}, which is not a folder)"
    return ""


def available_envs() -> list[str]:
    """Names of the env files in conf/envs."""
    folder = conf_dir() / "envs"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, but a key given twice in one mapping is an error: safe_load keeps
    the last value silently, so a second ``kind:`` or ``sources:`` would replace the first."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.setdefault(key, key_node)
                except TypeError:  # an unhashable key: SafeLoader's own error says so
                    continue
                if seen is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given at line "
                        f"{seen.start_mark.line + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from a local file or ``s3://`` URI; errors name the file."""
    text: str
    where = str(path)
    if where.startswith("s3://"):
        from lakeforge.aws import read_s3_text  # boto3 only when a config lives on S3

        bucket, _, key = where[len("s3://"):].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise ConfigError(f"config file {where} is not an object URI; give "
                              "s3://bucket/key.yaml")
        text = read_s3_text(where)
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {where} does not exist; pass an existing --config path")
        text = p.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


# --------------------------------------------------------------------------- overrides


def parse_override_value(text: str) -> Any:
    """Parse a command-line value as a YAML scalar/list (``3`` -> int, ``[a,b]`` -> list)."""
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any],
                    schema: type | None = None, flag: str = "") -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-key overrides set (``a.b.c`` -> data[a][b][c]).

    ``schema`` (the config dataclass the data is for) tells where a key may hold dots: under a
    map of plain values (``spark.conf``, ``lake.zones``) or a per-line map (``spark.jar_sets``)
    the rest of the dotted name is one key (``--env.spark.conf.spark.sql.adaptive.enabled``).
    ``flag`` is what the command line puts before the key (``env.``), for the error message."""
    out = _deep_copy(data)
    for dotted, value in overrides.items():
        parts = _override_keys(out, dotted, schema)
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            elif not isinstance(child, dict):
                raise ConfigError(
                    f"override --{flag}{dotted}: '{part}' is a value, not a section; "
                    f"use --{flag}{'.'.join(parts[: parts.index(part) + 1])} VALUE"
                )
            node = child
        node[parts[-1]] = value
    return out


def _holds_dotted_keys(tp: Any) -> bool:
    """A field whose keys are free text: a map of plain values (``dict[str, str]``) or a list
    that the YAML may also give as a map of lists (a Spark line's jar sets)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):  # Optional[...]
        return any(_holds_dotted_keys(arg) for arg in typing.get_args(tp) if arg is not type(None))
    if origin is list:
        return True
    if origin is not dict:
        return False
    value = typing.get_args(tp)[1]
    value_origin = typing.get_origin(value) or value
    return value_origin in (str, int, float, bool, list)


def _override_keys(data: Mapping[str, Any], dotted: str, schema: type | None = None
                   ) -> list[str]:
    """The keys a dotted override names. Under a field of ``schema`` whose keys are free text
    (:func:`_holds_dotted_keys`) the rest is one key; elsewhere a key may still hold dots (a
    map the schema does not type): the longest run of parts that names a key the data already
    has at that level is that key; otherwise each part is a key."""
    parts, keys, i = dotted.split("."), [], 0
    node: Any = data
    cls: Any = schema
    while i < len(parts):
        if cls is not None and not dataclasses.is_dataclass(cls) and _holds_dotted_keys(cls):
            keys.append(".".join(parts[i:]))
            break
        j = next((j for j in range(len(parts), i + 1, -1)
                  if isinstance(node, Mapping) and ".".join(parts[i:j]) in node), i + 1)
        keys.append(".".join(parts[i:j]))
        node = node.get(keys[-1]) if isinstance(node, Mapping) else None
        cls = (typing.get_type_hints(cls).get(keys[-1])
               if cls is not None and dataclasses.is_dataclass(cls) else None)
        i = j
    return keys


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


# --------------------------------------------------------------------------- validation


class FieldValueError(ValueError):
    """A config dataclass's ``__post_init__`` refuses a value: ``key`` is relative to the
    dataclass; :func:`from_mapping` names the file and the whole dotted key."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"'{key}' {why}")
        self.key, self.why = key, why


def from_mapping(cls: type[T], data: Mapping[str, Any], source: str, prefix: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``data``, checking every key and type.

    Raises ConfigError naming the dotted key and ``source`` (the file) on the first problem.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: '{prefix or '<top>'}' must be a mapping, got {type(data).__name__}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = _join(prefix, str(unknown[0]))
        raise ConfigError(
            f"{source}: unknown key '{key}'; allowed keys here: {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], key, source)
        elif f.default is _MISSING and f.default_factory is _MISSING:
            raise ConfigError(f"{source}: missing required key '{key}'")
    try:
        return cls(**kwargs)
    except FieldValueError as exc:
        raise ConfigError(f"{source}: '{_join(prefix, exc.key)}' {exc.why}") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source}: {prefix or cls.__name__}: {exc}") from exc


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f"{source}: '{key}' has a bad value")
    if value is None:
        raise ConfigError(f"{source}: '{key}' must not be null (expected {_type_name(tp)})")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: '{key}' is {value!r}; allowed values: {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, source, key)  # type: ignore[arg-type]
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"{source}: '{key}' must be a list, got {type(value).__name__} {value!r}"
            )
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{source}: '{key}' must be a mapping, got {type(value).__name__} {value!r}"
            )
        vt = args[1] if len(args) == 2 else Any
        # A map of text settings (spark.conf) takes a YAML true/false as Spark's "true"/"false".
        return {str(k): (("true" if v else "false") if vt is str and isinstance(v, bool)
                         else _coerce(v, vt, f"{key}.{k}", source))
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: '{key}' must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):  # YAML's .nan: every comparison with it is false
                raise ConfigError(f"{source}: '{key}' must be a number, got .nan")
            return float(value)
        raise ConfigError(f"{source}: '{key}' must be a number, got {value!r}")
    if tp is str:
        # Spark conf values are strings; YAML turns `4` into int, which is what the user meant.
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, bool):
            # YAML 1.1 reads unquoted on/off/yes/no/true/false as booleans: `[on, string, no,
            # string]` would otherwise name the columns 'true' and 'false'.
            raise ConfigError(
                f"{source}: '{key}' must be a string, got the boolean {value} (YAML reads an "
                "unquoted on/off/yes/no/true/false as a boolean); write the text in quotes, "
                "e.g. 'on'")
        raise ConfigError(f"{source}: '{key}' must be a string, got {type(value).__name__}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(
        f"{source}: '{key}' has type {type(value).__name__}, expected {_type_name(tp)}"
    )


def load_config(
    cls: type[T],
    path: str | Path | None,
    overrides: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """Load the job config ``cls`` from ``path`` (may be None: defaults only) plus overrides."""
    data: dict[str, Any] = dict(defaults or {})
    source = str(path) if path else "<defaults>"
    if path:
        data.update(read_yaml(path))
    if overrides:
        data = apply_overrides(data, overrides, cls)
        source = f"{source} (with command-line overrides)"
    return from_mapping(cls, data, source)


_ENV_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def load_env(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> EnvConfig:
    """Load an environment by name (conf/envs/<name>.yaml) or by path to a YAML file."""
    looks_like_path = name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path
    if looks_like_path:
        path = name_or_path
        if not path.startswith("s3://") and not Path(path).is_file():
            raise ConfigError(f"env file {path} does not exist; pass --env NAME (one of "
                              f"{available_envs()}) or the path of an env YAML")
    else:
        if not _ENV_NAME.match(name_or_path):
            raise ConfigError(f"env name {name_or_path!r} is not valid; use e.g. --env local")
        candidate = conf_dir() / "envs" / f"{name_or_path}.yaml"
        if not candidate.is_file():
            raise ConfigError(
                f"unknown env '{name_or_path}': no file {candidate}{conf_dir_problem()}; "
                f"choose one of {available_envs()} or pass --env path/to/env.yaml"
            )
        path = str(candidate)
    data = read_yaml(path)
    if "source" in data:  # a field Lakeforge fills in, not a key of the file
        keys = sorted(f.name for f in dataclasses.fields(EnvConfig) if f.name != "source")
        raise ConfigError(f"{path}: unknown key 'source'; allowed keys here: {keys}")
    data.setdefault("name", Path(str(path)).stem)
    source = str(path)
    if overrides:
        data = apply_overrides(data, overrides, EnvConfig, flag="env.")
        source = f"{path} (with command-line overrides)"
    # spark.jar_sets may be per line, which the dataclass does not model: checked on its own
    # once the rest (kind above all) is valid, and replaced by the installed line's list.
    raw_sets: Any = []
    spark = data.get("spark")
    if isinstance(spark, dict) and "jar_sets" in spark:
        raw_sets = spark["jar_sets"]
        data = {**data, "spark": {k: v for k, v in spark.items() if k != "jar_sets"}}
    env = from_mapping(EnvConfig, data, source)
    _check_spark_values(env.spark, env.kind, source)
    from lakeforge.paths import validate_identifier

    try:
        validate_identifier(env.catalog.database, "'catalog.database'")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    # No variable is expanded in a path: '${X}/lake' would become a folder named '${X}'.
    paths = {"lake.root": env.lake.root,
             **{f"lake.zones.{k}": v for k, v in env.lake.zones.items()}}
    for key, value in paths.items():
        if isinstance(value, str) and ("${" in value or value.startswith("$")):
            raise ConfigError(
                f"{source}: '{key}' is {value!r}: Lakeforge expands no variables in paths; "
                "give the path itself (the lake root may come from $LAKEFORGE_LAKE_ROOT)")
    sets = _line_jar_sets(raw_sets, env.kind, source)
    return dataclasses.replace(env, spark=dataclasses.replace(env.spark, jar_sets=sets),
                               source=source)


# Spark's master URLs (org.apache.spark.SparkMasterRegex; yarn and k8s:// are cluster managers).
_MASTER = re.compile(r"local|local\[([0-9]+|\*)\]|local\[([0-9]+|\*)\s*,\s*[0-9]+\]"
                     r"|local-cluster\[\s*[0-9]+\s*,\s*[0-9]+\s*,\s*[0-9]+\s*\]"
                     r"|spark://\S+|yarn|k8s://\S+")
# The JVM's -Xmx size, which spark-submit makes of spark.driver.memory on a local session.
_MEMORY = re.compile(r"[1-9][0-9]*[kKmMgGtT]")


def _check_spark_values(spark: SparkSettings, kind: str, source: str) -> None:
    """What the types cannot say and Spark would only refuse with a JVM stack trace once it
    starts: the master URL and the driver memory a local or standalone session is given (EMR
    and Glue sessions take the cluster's)."""
    if kind not in ("local", "standalone"):
        return
    if spark.master is not None and not _MASTER.fullmatch(spark.master):
        raise ConfigError(
            f"{source}: 'spark.master' is {spark.master!r}, not a Spark master URL; use "
            "local[*], local[N], spark://host:port (standalone), yarn or k8s://host:port")
    if spark.driver_memory is not None and not _MEMORY.fullmatch(spark.driver_memory):
        raise ConfigError(
            f"{source}: 'spark.driver_memory' is {spark.driver_memory!r}; give a whole number "
            "with a unit k, m, g or t, e.g. 4g or 512m")


def _line_jar_sets(raw: Any, kind: str, source: str) -> list[str]:
    """spark.jar_sets as the installed Spark line's list of set names, checked before Spark.

    ``raw`` is a list (the same sets on every line) or a mapping from line (``spark-3.5``, a
    folder of jvm/ with a pom.xml) to a list. Every entry of a mapping is checked, not only the
    installed line's, so one env file is known good on both lines wherever it loads. Empty (a
    list or a mapping) means no sets. Local and standalone sessions only.
    """
    from lakeforge import jars

    if not isinstance(raw, (list, tuple, Mapping)):
        raise ConfigError(
            f"{source}: 'spark.jar_sets' must be a list of set names or a mapping from Spark "
            f"line to such a list, got {type(raw).__name__} {raw!r}")
    if not raw:
        return []
    if kind not in ("local", "standalone"):
        raise ConfigError(
            f"{source}: spark.jar_sets applies to local and standalone sessions; on "
            f"{kind} the cluster brings its jars (EMR step --jars, Glue --extra-jars)")
    installed = jars.spark_line()
    if not isinstance(raw, Mapping):
        return _checked_sets(raw, "spark.jar_sets", installed, source)
    lines = jars.available_lines()
    for line in raw:
        if line not in lines:
            raise ConfigError(
                f"{source}: spark.jar_sets has an entry for {line!r}, which is not a Spark line "
                f"of {jars.jvm_dir()}; known lines: {', '.join(lines) or 'none'}")
    if installed not in raw:
        raise ConfigError(
            f"{source}: spark.jar_sets has no entry for {installed}, the installed Spark line "
            f"(it has {', '.join(raw)}); add `{installed}: [...]` ([] for no sets)")
    per_line = {line: _checked_sets(sets, f"spark.jar_sets.{line}", line, source)
                for line, sets in raw.items()}
    return per_line[installed]


def _checked_sets(value: Any, key: str, line: str, source: str) -> list[str]:
    """One list of set names: a list of strings, none twice, each defined for ``line``."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{source}: '{key}' must be a list of set names, got "
                          f"{type(value).__name__} {value!r}")
    names: list[str] = _coerce(list(value), list[str], key, source)
    twice = sorted({s for s in names if names.count(s) > 1})
    if twice:
        raise ConfigError(f"{source}: {key} lists {', '.join(twice)} more than once")
    from lakeforge.jars import check_set_names

    check_set_names(names, source, line, key)
    return names


def to_dict(obj: Any) -> Any:
    """A plain-dict view of a config dataclass (for logging and reports)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj

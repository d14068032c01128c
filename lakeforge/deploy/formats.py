"""The table formats a deployed job publishes, and what EMR and Glue need to run them.

Locally a session takes Delta / Iceberg from the env's jar sets (``lakeforge.formats``). On
EMR and Glue the platform brings the jars and the env names no jar sets, so the deploy reads
the formats from the job's config (``outputs.<name>.format``; ``--output_format F`` or
``--outputs.<name>.format F`` among the job arguments win, as they do in the run) and asks the
platform for them at submit time, because the extensions are static Spark settings that a
running job cannot set:

* Glue: ``--datalake-formats delta,iceberg`` (Glue adds the jars) and ``--conf`` with the
  settings of :func:`lakeforge.formats.format_conf` (Glue's ``--conf`` job parameter takes
  further ``--conf key=value`` pairs in its value);
* EMR: the same settings as ``spark-submit --conf`` on the step, and for a cluster the deploy
  creates, the ``delta-defaults`` / ``iceberg-defaults`` classifications (``delta.enabled`` /
  ``iceberg.enabled``) that put EMR's own Delta / Iceberg jars on Spark's class path. A
  cluster that exists already must have been created with them.

Iceberg commits through Iceberg's GlueCatalog there (EMR and Glue envs use Glue as the
metastore), with the lake's curated zone as the warehouse.

Example::

    formats = job_table_formats("customer_propensity", ["--output_format", "iceberg"])
    conf = platform_conf(formats, load_env("glue"))
    args = glue_format_arguments(formats, conf)   # {"--datalake-formats": ..., "--conf": ...}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakeforge.deploy import DeployError

if TYPE_CHECKING:
    from lakeforge.config import EnvConfig

# The formats the platform must bring (Parquet needs nothing).
PLATFORM_FORMATS = ("delta", "iceberg")
EMR_CLASSIFICATIONS = {"delta": ("delta-defaults", "delta.enabled"),
                       "iceberg": ("iceberg-defaults", "iceberg.enabled")}


def job_table_formats(job: str, job_args: Sequence[str] = (),
                      config: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The Delta / Iceberg formats ``job`` publishes, sorted: from ``config`` (default: the
    job's ``conf/jobs/<job>.yaml``; none when it has no config file) and the job arguments
    (``--output_format F`` sets every output's, ``--outputs.<name>.format F`` one's). An
    unknown format fails with one line naming where it came from."""
    from lakeforge.formats import check_format

    if config is None:
        config = _job_config(job)
    outputs = config.get("outputs") or {}
    if not isinstance(outputs, Mapping):
        raise DeployError(f"conf/jobs/{job}.yaml: outputs must be a mapping")
    formats: dict[str, str] = {}
    for name, out in outputs.items():
        fmt = (out or {}).get("format", "parquet") if isinstance(out, Mapping) else "parquet"
        formats[str(name)] = check_format(str(fmt), f"conf/jobs/{job}.yaml outputs.{name}.format")
    pairs = dict(zip(job_args[::2], job_args[1::2], strict=False))
    for key, value in pairs.items():
        name = key.lstrip("-")
        if name in ("output_format", "output-format"):
            check_format(value, f"job argument {key}")
            formats = dict.fromkeys(formats or {"*": value}, value)
        elif name.startswith("outputs.") and name.endswith(".format"):
            formats[name[len("outputs."):-len(".format")]] = check_format(
                value, f"job argument {key}")
    return tuple(sorted({f for f in formats.values() if f in PLATFORM_FORMATS}))


def _job_config(job: str) -> Mapping[str, Any]:
    """The job's conf/jobs/<job>.yaml (``lakeforge.config.read_yaml``: errors name the file);
    empty when the job has none."""
    from lakeforge.config import conf_dir, read_yaml

    path = conf_dir() / "jobs" / f"{job}.yaml"
    return read_yaml(path) if path.exists() else {}


def platform_conf(formats: Sequence[str], env: EnvConfig) -> dict[str, str]:
    """The Spark settings ``formats`` need on the env's platform (EMR or Glue): the
    extensions and catalogs of :func:`lakeforge.formats.format_conf`, the Iceberg catalog's
    warehouse being the env lake's curated zone."""
    from lakeforge.formats import format_conf
    from lakeforge.paths import Lake

    if not formats:
        return {}
    return format_conf(set(formats), env, Lake.from_env(env).zone("curated"))


def merge_conf(ours: Mapping[str, str], theirs: Mapping[str, str], where: str
               ) -> dict[str, str]:
    """``theirs`` (the user's) plus ``ours``; a key both set to different values fails with
    one line (the formats would not load, or the user's setting would be lost)."""
    clash = sorted(k for k in ours if k in theirs and theirs[k] != ours[k])
    if clash:
        raise DeployError(
            f"{where}: {clash[0]}={theirs[clash[0]]!r} clashes with the job's table formats, "
            f"which need {ours[clash[0]]!r}; drop it (the deploy sets it)")
    return {**theirs, **ours}


def parse_glue_conf(value: str) -> dict[str, str]:
    """Glue's ``--conf`` job parameter value (``k=v --conf k2=v2 ...``) as a mapping."""
    out: dict[str, str] = {}
    for item in (p.strip() for p in f" {value}".split(" --conf ")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise DeployError(f"--conf {value!r}: {item!r} is not key=value")
        out[key.strip()] = val.strip()
    return out


def glue_format_arguments(formats: Sequence[str], conf: Mapping[str, str],
                          arguments: Mapping[str, str] | None = None) -> dict[str, str]:
    """``--datalake-formats`` and ``--conf`` for a Glue job publishing ``formats`` with the
    settings ``conf``, merged with the user's own ``--datalake-formats`` / ``--conf`` in
    ``arguments`` (their formats are kept; a clashing setting fails)."""
    arguments = arguments or {}
    if not formats:
        return {}
    theirs_formats = [f.strip() for f in arguments.get("--datalake-formats", "").split(",")
                      if f.strip()]
    merged = merge_conf(conf, parse_glue_conf(arguments.get("--conf", "")), "--conf")
    return {
        "--datalake-formats": ",".join(sorted({*theirs_formats, *formats})),
        "--conf": " --conf ".join(f"{k}={v}" for k, v in sorted(merged.items())),
    }


def emr_configurations(formats: Sequence[str], configurations: Sequence[Mapping[str, Any]]
                       ) -> list[dict[str, Any]]:
    """``configurations`` plus the classification enabling each of ``formats`` on a new
    cluster (kept when the user's configurations set it already, refused when they disable
    it)."""
    out = [dict(c) for c in configurations]
    for fmt in formats:
        classification, prop = EMR_CLASSIFICATIONS[fmt]
        mine = next((c for c in out if c.get("Classification") == classification), None)
        if mine is None:
            out.append({"Classification": classification, "Properties": {prop: "true"}})
            continue
        value = str((mine.get("Properties") or {}).get(prop, "")).lower()
        if value == "false":
            raise DeployError(f"EMR configurations: {classification} {prop}=false, but the job "
                              f"publishes {fmt} tables")
        mine["Properties"] = {**(mine.get("Properties") or {}), prop: "true"}
    return out

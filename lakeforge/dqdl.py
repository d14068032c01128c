"""DQDL rulesets in the runtime: files, reference tables, the job gate, suite conversion files.

:mod:`quality.dqdl` parses and evaluates (pure); this module reads ruleset files (a name in
conf/quality/<name>.dqdl, a local path or s3://), resolves ``--reference name=TABLE`` to
DataFrames, runs the gate that quarantines failing rows, and writes converted suites.

Example (the lifecycle's audit phase calls :func:`run_dqdl_gate` for a ``quality_suite`` that
ends in ``.dqdl``)::

    outcome = run_dqdl_gate(spark, df, "conf/quality/orders.dqdl", lake=lake,
                            table="sales/orders", run_id=run_id, tags={"job": "orders"})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lakeforge import io
from lakeforge.config import conf_dir
from lakeforge.errors import ConfigError, InputPathError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeforge.lifecycle.gate import GateOutcome
    from lakeforge.paths import Lake
    from quality.dqdl.model import Ruleset

log = logging.getLogger(__name__)

DQDL_SUFFIX = ".dqdl"


def is_dqdl(name_or_path: str) -> bool:
    """A gate suite given as a DQDL ruleset (``orders.dqdl``, a path or a conf name)."""
    if name_or_path.endswith(DQDL_SUFFIX):
        return True
    return (conf_dir() / "quality" / f"{name_or_path}{DQDL_SUFFIX}").is_file() and not (
        conf_dir() / "quality" / f"{name_or_path}.yaml").is_file()


def ruleset_location(name_or_path: str) -> str:
    """conf/quality/<name>.dqdl for a bare name, else the path or URI itself."""
    if "/" in name_or_path or name_or_path.endswith(DQDL_SUFFIX) or "://" in name_or_path:
        return name_or_path
    return str(conf_dir() / "quality" / f"{name_or_path}{DQDL_SUFFIX}")


def load_ruleset(name_or_path: str) -> tuple[str, Ruleset]:
    """Read and parse a ruleset file; errors name the file (and line/column for syntax)."""
    from quality.dqdl import parse_ruleset

    location = ruleset_location(name_or_path)
    if not io.uri_exists(location):
        raise InputPathError(f"DQDL ruleset {location} does not exist")
    text = io.read_text(location)
    name = Path(location.rstrip("/")).name
    name = name[:-len(DQDL_SUFFIX)] if name.endswith(DQDL_SUFFIX) else name
    return name, parse_ruleset(text, source=location)


def parse_references(items: Sequence[str]) -> dict[str, str]:
    """``["ref=sales.orders", ...]`` -> {"ref": "sales.orders"}; a bad item is a ConfigError."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ConfigError(f"--reference {item!r} must be NAME=TABLE (or NAME=PATH)")
        out[name.strip()] = target.strip()
    return out


def read_references(spark: SparkSession, references: Mapping[str, str],
                    ruleset: Ruleset | None = None) -> dict[str, DataFrame]:
    """Each reference as a DataFrame: a catalog table, or a Parquet path when it has a ``/``.

    With ``ruleset``, a reference the ruleset uses but nobody gave fails here, before Spark runs
    the rules (one line naming the option to pass).
    """
    if ruleset is not None:
        missing = sorted(needed_references(ruleset) - set(references))
        if missing:
            raise ConfigError(f"the ruleset uses reference dataset(s) {missing}; pass "
                              + " ".join(f"--reference {m}=TABLE" for m in missing))
    frames = {}
    for name, target in references.items():
        if "/" in target:
            io.require_input_path(target, f"--reference {name}")
            frames[name] = spark.read.parquet(target)
        else:
            frames[name] = spark.table(target)
    return frames


def needed_references(ruleset: Ruleset) -> set[str]:
    """The dataset aliases the multi-dataset rules of ``ruleset`` read."""
    names: set[str] = set()
    for top in ruleset.rules:
        for rule in top.leaves():
            params = rule.parameters
            if rule.rule_type in ("RowCountMatch", "SchemaMatch", "DatasetMatch"):
                names.add(params[0])
            elif rule.rule_type == "ReferentialIntegrity":
                for param in params:
                    if "." in param:
                        names.add(param.split(".", 1)[0])
            elif rule.rule_type == "AggregateMatch":
                for param in params:
                    inner = param[param.find("(") + 1:param.rfind(")")]
                    if "." in inner:
                        names.add(inner.split(".", 1)[0])
    names.discard("primary")
    return names


# --------------------------------------------------------------------------- the gate


def run_dqdl_gate(spark: SparkSession, data: DataFrame, ruleset: str, *, lake: Lake, table: str,
                  run_id: str, tags: Mapping[str, str], partition_by: Sequence[str] = (),
                  references: Mapping[str, str] | None = None) -> GateOutcome:
    """Evaluate a DQDL ruleset file on ``data``; rows a failed rule counts as failing
    (:meth:`~quality.dqdl.evaluate.DQDLResult.failing_rows`) go to
    ``quarantine/<table>/run_id=<run>`` with the failed rules as the reason. Metrics are saved to
    the lake's repository (dynamic rules read them next time). ``passed`` is False when any rule
    did not pass (DQDL has no warning level)."""
    from lakeforge.lifecycle.gate import GateOutcome, quarantine_failing
    from lakeforge.quality_gate import metrics_repository
    from quality.dqdl.evaluate import evaluate_ruleset
    from quality.repository import ResultKey

    name, parsed = load_ruleset(ruleset)
    frames = read_references(spark, references or {}, parsed)
    repo = metrics_repository(spark, lake.path("metadata", "quality", "metrics.json"))
    result = evaluate_ruleset(spark, data, parsed, references=frames, repository=repo,
                              result_key=ResultKey(tags={**tags, "suite": name}))
    failed = [r.text for r in result.rules if r.outcome != "Passed"]
    outcome = GateOutcome(name, result, not failed, failed, len(result.rules) - len(failed),
                          score=result.score)
    if failed:
        # the rows each failed rule counts against its metric (a NULL predicate included,
        # rows outside its where never); a rule that passed within its `with threshold`
        # blames none, though its failing rows are in DataQualityRulesFail
        outcome.failing = result.failing_rows(data).withColumnRenamed("failed_rules",
                                                                      "failed_constraints")
        quarantine_failing(outcome, lake, table, run_id, partition_by)
        log.warning("DQDL gate %s: %d rule(s) failed, %d row(s) quarantined", name,
                    len(failed), outcome.rows_failed)
    return outcome


# --------------------------------------------------------------------------- conversions


def export_suite(suite: str, out: str | None) -> tuple[str, list[tuple[str, str]]]:
    """conf/quality/<suite>.yaml (or a path) -> DQDL text, written to ``out`` when given."""
    from lakeforge.config import read_yaml
    from quality.dqdl.suites import suite_to_dqdl

    path = suite if suite.endswith((".yaml", ".yml")) or "/" in suite else str(
        conf_dir() / "quality" / f"{suite}.yaml")
    if not Path(path).is_file():
        raise InputPathError(f"quality suite {path} does not exist")
    conversion = suite_to_dqdl(read_yaml(path), path)
    text = conversion.result.to_dqdl()
    if out:
        io.write_text(out, text)
    return text, conversion.skipped


def import_ruleset(ruleset: str, name: str | None, out: str | None
                   ) -> tuple[str, list[tuple[str, str]]]:
    """A DQDL file -> suite YAML text, written to ``out`` when given."""
    import yaml

    from quality.dqdl.suites import dqdl_to_suite

    default_name, parsed = load_ruleset(ruleset)
    conversion = dqdl_to_suite(parsed, name or default_name)
    text = yaml.safe_dump(conversion.result, sort_keys=False)
    if out:
        io.write_text(out, text)
    return text, conversion.skipped


__all__ = [
    "export_suite", "import_ruleset", "is_dqdl", "load_ruleset",
    "needed_references", "parse_references", "read_references", "run_dqdl_gate",
]

"""Plan and run all analyzers of a run in the fewest Spark jobs.

One Spark action computes everything that can share it:

1. Every grouping analyzer contributes a grouping set (its columns, plus a boolean column for its
   ``where``; histograms group a derived string key). All grouping sets are counted by one
   ``GROUP BY ... GROUPING SETS`` (Spark's Expand + partial aggregation, one shuffle), and the
   per-set summaries the analyzers read (rows, distinct groups, groups of size one, sum of
   c*ln(c), duplicate rows) are observed metrics on the frequency table. The action collects
   only the histogram rows (what Deequ collects too).
2. Every scan aggregate (Size, Completeness, Mean, ..., correlation, data type counts) is one
   regular global aggregation, unioned with the rows of 1. into the same action: Spark compiles
   it to whole-stage generated code (observed metrics are interpreted row by row) and each side
   scans only the Parquet columns it reads. ImperativeAggregates (percentiles, HyperLogLog)
   would make Spark interpret the whole aggregation; they are observed on its input instead.

With AQE on, such an action is three Spark jobs (two shuffle map stages and the result stage),
two without scan analyzers. Scan analyzers alone are one job: all their aggregates are observed
during a ``noop`` write. MutualInformation needs marginal frequencies and runs one extra query;
HistogramBinned with ``binCount`` needs min and max first.

Spark's optimizer may remove an observation altogether when it proves the input empty (an empty
local relation); the engine then computes the same aggregates directly, so results never depend
on that.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, Row
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from quality.analyzers import (
    GROUP_STATS,
    NULL_FIELD_REPLACEMENT,
    Analyzer,
    GroupSpec,
    HistogramBinned,
    binned_key,
    col,
    quote,
)
from quality.metrics import (
    MetricCalculationException,
    MetricCalculationRuntimeException,
)

log = logging.getLogger(__name__)

MAX_GROUPING_COLUMNS = 60  # grouping_id() is a 64-bit mask


def compute_metrics(df: DataFrame, analyzers: Sequence[Analyzer]) -> dict[Analyzer, Any]:
    """Compute the metric of every analyzer; failures become failed metrics, never exceptions."""
    unique = list(dict.fromkeys(analyzers))
    schema = df.schema
    # No default in get(): an explicit default is returned whenever the key was not *set*,
    # which on Spark 4 (ANSI on by default) would read as "false".
    ansi = str(df.sparkSession.conf.get("spark.sql.ansi.enabled")).lower() == "true"
    results: dict[Analyzer, Any] = {}
    runnable: list[tuple[Analyzer, Analyzer]] = []  # (as asked, as computed)
    expression_errors: dict[str, Exception | None] = {}
    for analyzer in unique:
        effective = analyzer.resolved(schema, ansi=ansi)
        try:
            for condition in effective.preconditions():
                condition(schema)
            for expression in effective.sql_expressions():
                if expression not in expression_errors:
                    expression_errors[expression] = _validate_expression(df, expression)
                if expression_errors[expression] is not None:
                    raise expression_errors[expression]  # type: ignore[misc]
        except MetricCalculationException as exc:
            results[analyzer] = analyzer.to_failure(exc)
            continue
        runnable.append((analyzer, effective))

    scan = [(a, e) for a, e in runnable if e.kind == "scan"]
    group = [(a, e) for a, e in runnable if e.kind == "group"]
    direct = [(a, e) for a, e in runnable if e.kind == "direct"]
    for a, e in runnable:
        if e.kind == "meta":
            results[a] = e.compute_from_schema(schema)  # type: ignore[attr-defined]

    if scan or group:
        results.update(_run_shared(df, scan, group))
    for a, e in direct:
        try:
            results[a] = e.compute(df)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a Spark failure becomes the metric's failure
            log.warning("analyzer %s failed: %s", a, exc)
            results[a] = a.to_failure(MetricCalculationRuntimeException(str(exc)))
    return {a: results[a] for a in unique}


def _validate_expression(df: DataFrame, expression: str) -> Exception | None:
    """Resolve a SQL snippet against the schema (no job); an error message names it."""
    try:
        df.select(F.expr(expression).alias("x")).schema  # noqa: B018 - triggers analysis only
    except Exception as exc:  # noqa: BLE001 - parse and analysis errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return MetricCalculationRuntimeException(
            f"Invalid SQL expression '{expression}': {first}")
    return None


@dataclass
class _ScanPlan:
    """The scan aggregates of a run and the projection of the data they read."""

    base: DataFrame
    declarative: list[Column]  # aliased aggregates Spark compiles to generated code
    imperative: list[Column]  # aliased ImperativeAggregates (percentile, HyperLogLog)

    @property
    def columns(self) -> list[Column]:
        return self.declarative + self.imperative


def _run_shared(df: DataFrame, scan: list[tuple[Analyzer, Analyzer]],
                group: list[tuple[Analyzer, Analyzer]]) -> dict[Analyzer, Any]:
    """One action for all scan and grouping analyzers (plus batches past 60 grouping columns)."""
    results: dict[Analyzer, Any] = {}
    aggregates: dict[Any, tuple[str, Column, bool]] = {}  # key -> (alias, aggregate, imperative)
    scan_slots: dict[Analyzer, list[str]] = {}
    for a, e in scan:
        slots = []
        for key, column in e.scan_aggregates():  # type: ignore[attr-defined]
            if key not in aggregates:
                aggregates[key] = (f"__dq_a{len(aggregates)}", column,
                                   bool(getattr(e, "imperative", False)))
            slots.append(aggregates[key][0])
        scan_slots[a] = slots

    # No projection of "the referenced columns" up front: Spark prunes every branch's Parquet
    # columns to what its aggregates reference (through observations too), which is exact even
    # for analyzers that reference columns only inside SQL snippets.
    scan_plan: _ScanPlan | None = None
    if aggregates:
        base = df
        # Per-row derived values shared by several aggregates of an analyzer (e.g. DataType's
        # regex classification) are projected once; the optimizer keeps non-cheap expressions
        # that are referenced more than once in the projection instead of inlining them into
        # each aggregate.
        projections: dict[str, Column] = {}
        for _, e in scan:
            for alias, column in getattr(e, "scan_projections", lambda: [])():
                projections.setdefault(alias, column.alias(alias))
        if projections:
            base = base.select("*", *projections.values())
        scan_plan = _ScanPlan(
            base,
            [column.alias(alias) for alias, column, imperative in aggregates.values()
             if not imperative],
            [column.alias(alias) for alias, column, imperative in aggregates.values()
             if imperative])

    group_base = df
    specs: dict[GroupSpec, list[tuple[Analyzer, Analyzer]]] = {}
    edges: dict[Analyzer, list[float]] = {}
    binned_bounds = [e for _, e in group if isinstance(e, HistogramBinned) and e.needs_bounds()]
    if binned_bounds:
        edges.update(_bin_edges(group_base, binned_bounds))
    for a, e in group:
        spec = (e.group_spec(edges.get(e)) if isinstance(e, HistogramBinned)
                else e.group_spec())  # type: ignore[attr-defined]
        specs.setdefault(spec, []).append((a, e))
    needs = {spec: frozenset().union(*(getattr(e, "group_stats", GROUP_STATS)
                                       for _, e in members))
             for spec, members in specs.items()}

    scan_values: dict[str, Any] = {}
    try:
        group_stats = _run_groups(group_base, scan_plan, needs, scan_values)
    except Exception as exc:  # noqa: BLE001 - Spark failure: every metric of the pass fails
        log.warning("quality analysis pass failed: %s", exc)
        failure = MetricCalculationRuntimeException(str(exc).strip().splitlines()[0]
                                                    if str(exc).strip() else repr(exc))
        for a, _ in scan + group:
            results[a] = a.to_failure(failure)
        return results

    for a, e in scan:
        results[a] = _safe(a, lambda e=e, a=a: e.from_scan(  # type: ignore[attr-defined]
            [scan_values.get(s) for s in scan_slots[a]]))
    for spec, members in specs.items():
        stats = group_stats[spec]
        for a, _effective in members:
            results[a] = _safe(a, lambda a=a, stats=stats: a.from_group(  # type: ignore[attr-defined]
                stats))
    return results


def _safe(analyzer: Analyzer, build: Any) -> Any:
    try:
        return build()
    except MetricCalculationException as exc:
        return analyzer.to_failure(exc)


def _bin_edges(base: DataFrame, analyzers: list[HistogramBinned]) -> dict[Analyzer, list[float]]:
    """Equal-width bin edges from min to max for ``HistogramBinned(binCount=...)`` (one job)."""
    aggs = []
    for i, a in enumerate(analyzers):
        value = F.when(F.expr(a.where), col(a.column)) if a.where else col(a.column)
        aggs += [F.min(value.cast("double")).alias(f"lo{i}"),
                 F.max(value.cast("double")).alias(f"hi{i}")]
    row = base.agg(*aggs).collect()[0]
    out: dict[Analyzer, list[float]] = {}
    for i, a in enumerate(analyzers):
        lo, hi = row[f"lo{i}"], row[f"hi{i}"]
        if lo is None:
            out[a] = []
            continue
        count = int(a.binCount or 1)
        if hi == lo:
            out[a] = [lo, hi]
        else:
            step = (hi - lo) / count
            out[a] = [lo + step * k for k in range(count)] + [hi]
    return out


def _batches(specs: list[GroupSpec]) -> list[list[GroupSpec]]:
    batches: list[list[GroupSpec]] = []
    current: list[GroupSpec] = []
    current_cols: set[str] = set()
    for spec in specs:
        cols = set(_spec_columns_key(spec))
        if current and len(current_cols | cols) > MAX_GROUPING_COLUMNS:
            batches.append(current)
            current, current_cols = [], set()
        current.append(spec)
        current_cols |= cols
    if current:
        batches.append(current)
    return batches


def _spec_columns_key(spec: GroupSpec) -> tuple[str, ...]:
    return spec.columns if not spec.histogram else (f"h:{spec.columns[0]}:{id(spec)}",)


def _run_groups(base: DataFrame, scan: _ScanPlan | None, needs: dict[GroupSpec, frozenset[str]],
                scan_values: dict[str, Any]) -> dict[GroupSpec, dict[str, Any]]:
    """Run the shared action(s); fill ``scan_values`` and return per-spec statistics."""
    if not needs:
        assert scan is not None
        # Scan analyzers only: every aggregate is observed on a no-op write, one job.
        observation = Observation(f"dq_scan_{uuid.uuid4().hex}")
        scan.base.observe(observation, *scan.columns).select(F.lit(0)).write.format(
            "noop").mode("overwrite").save()
        scan_values.update(_observed(observation, scan.base, scan.columns))
        return {}
    stats: dict[GroupSpec, dict[str, Any]] = {}
    for i, batch in enumerate(_batches(list(needs))):
        stats.update(_run_group_batch(base, batch, needs, scan if i == 0 else None, scan_values))
    return stats


def _observed(observation: Observation, base: DataFrame, columns: list[Column]) -> dict[str, Any]:
    """The observed values; computed directly when the optimizer removed the observation
    (provably empty input)."""
    values = observation.get
    if not values:
        values = base.agg(*columns).collect()[0].asDict()
    return dict(values)


def _collect_with_scan(rows: DataFrame, scan: _ScanPlan, scan_values: dict[str, Any]
                       ) -> list[Row]:
    """Collect ``rows`` and the scan aggregates in one action; fill ``scan_values``.

    The scan aggregates are a regular global aggregation (whole-stage generated code, unlike
    observed metrics) over the scan's own projection, unioned with ``rows``: each side scans
    only the columns it reads, and the action runs the two shuffle stages and one result stage.
    ImperativeAggregates (percentile, HyperLogLog) would turn the whole aggregation into an
    interpreted ObjectHashAggregate; they are observed on the aggregation's input instead.
    """
    observation: Observation | None = None
    source = scan.base
    aggregates = scan.columns
    if scan.declarative and scan.imperative:
        observation = Observation(f"dq_scan_{uuid.uuid4().hex}")
        source = source.observe(observation, *scan.imperative)
        aggregates = scan.declarative
    aggregated = source.agg(*aggregates)
    marker = "__dq_scan_row"
    left = rows.select("*", F.lit(False).alias(marker),
                       *[F.lit(None).cast(f.dataType).alias(f.name)
                         for f in aggregated.schema.fields])
    right = aggregated.select(*[F.lit(None).cast(f.dataType).alias(f.name)
                                for f in rows.schema.fields],
                              F.lit(True).alias(marker), "*")
    collected = left.unionByName(right).collect()
    scan_rows = [r for r in collected if r[marker]]
    if len(scan_rows) != 1:
        raise MetricCalculationRuntimeException(
            f"expected one row of scan aggregates, got {len(scan_rows)}")
    scan_values.update({f.name: scan_rows[0][f.name] for f in aggregated.schema.fields})
    if observation is not None:
        scan_values.update(_observed(observation, scan.base, scan.imperative))
    return [r for r in collected if not r[marker]]


def _run_group_batch(source: DataFrame, batch: list[GroupSpec],
                     needs: dict[GroupSpec, frozenset[str]], scan: _ScanPlan | None,
                     scan_values: dict[str, Any]) -> dict[GroupSpec, dict[str, Any]]:
    spark = source.sparkSession
    derived: list[Column] = []
    set_columns: list[list[str]] = []
    names: dict[GroupSpec, dict[str, Any]] = {}
    sum_aliases: dict[str, str] = {}
    for j, spec in enumerate(batch):
        cols: list[str] = []
        info: dict[str, Any] = {}
        if spec.histogram:
            key = f"__dq_h{j}"
            raw = col(spec.columns[0])
            if spec.edges is not None:
                labels = HistogramBinned(spec.columns[0], customEdges=[0.0, 1.0]).bin_labels(
                    list(spec.edges))
                value = binned_key(raw, list(spec.edges), labels) if spec.edges else F.when(
                    raw.isNull(), F.lit(NULL_FIELD_REPLACEMENT)).otherwise(F.lit("OutOfRange"))
            else:
                binned = spec.binning(raw) if spec.binning is not None else raw
                value = F.coalesce(binned.cast("string"), F.lit(NULL_FIELD_REPLACEMENT))
            derived.append(value.alias(key))
            cols.append(key)
            info["key"] = key
            sum_col = spec.sum_column
            if sum_col:
                sum_aliases.setdefault(sum_col, f"__dq_s{len(sum_aliases)}")
                info["sum"] = sum_aliases[sum_col]
        else:
            cols.extend(spec.columns)
        if spec.where:
            flag = f"__dq_w{j}"
            derived.append(F.coalesce(F.expr(spec.where), F.lit(False)).alias(flag))
            cols.append(flag)
            info["where"] = flag
        set_columns.append(cols)
        names[spec] = info

    prepared = source.select("*", *derived) if derived else source
    all_cols = list(dict.fromkeys(c for cols in set_columns for c in cols))
    single = len(batch) == 1
    select_cols = ", ".join(quote(c) for c in all_cols)
    sums = "".join(f", sum(CAST({quote(c)} AS DOUBLE)) AS {alias}"
                   for c, alias in sum_aliases.items())
    if single:
        query = (f"SELECT {select_cols}, 0L AS __dq_gid, count(1) AS __dq_cnt{sums} "
                 f"FROM {{src}} GROUP BY {select_cols}")
    else:
        sets = ", ".join("(" + ", ".join(quote(c) for c in cols) + ")" for cols in set_columns)
        query = (f"SELECT {select_cols}, grouping_id() AS __dq_gid, count(1) AS __dq_cnt{sums} "
                 f"FROM {{src}} GROUP BY {select_cols} GROUPING SETS ({sets})")
    freq = spark.sql(query, src=prepared)

    gids: dict[GroupSpec, int] = {}
    n = len(all_cols)
    for spec, cols in zip(batch, set_columns, strict=True):
        gids[spec] = 0 if single else sum(1 << (n - 1 - i) for i, c in enumerate(all_cols)
                                          if c not in cols)

    # Summaries of each grouping set, computed while the frequency table streams past: only the
    # statistics the set's analyzers read.
    gid, cnt = F.col("__dq_gid"), F.col("__dq_cnt")
    obs_columns: list[Column] = []
    for j, spec in enumerate(batch):
        valid = gid == F.lit(gids[spec])
        info = names[spec]
        if info.get("where"):
            valid = valid & F.col(info["where"])
        wanted_stats = {"n"} if spec.histogram else set(needs[spec])
        if not spec.histogram:
            any_value: Column | None = None
            for c in spec.columns:
                term = col(c).isNotNull()
                any_value = term if any_value is None else (any_value | term)
            # No columns (the analyzers' preconditions rule that out): `valid & None` would
            # AND a null literal, which F.lit(None) spells out.
            valid = valid & (F.lit(None) if any_value is None else any_value)
        summaries = {
            "groups": lambda v: F.count(F.when(v, 1)),
            "unique": lambda v: F.count(F.when(v & (cnt == 1), 1)),
            "clnc": lambda v: F.sum(F.when(v, cnt * F.log(cnt))),
            "dup": lambda v: F.sum(F.when(v & (cnt > 1), cnt)),
            "n": lambda v: F.sum(F.when(v, cnt)),
        }
        for stat in GROUP_STATS:
            if stat in wanted_stats:
                obs_columns.append(summaries[stat](valid).alias(f"{stat}_{j}"))
        if spec.histogram and info.get("where"):
            # Deequ's histogram ratios divide by all rows, also those `where` filters out.
            obs_columns.append(F.sum(F.when(gid == F.lit(gids[spec]), cnt)).alias(f"all_{j}"))

    group_obs = Observation(f"dq_groups_{uuid.uuid4().hex}")
    hist_gids = [gids[s] for s in batch if s.histogram]
    observed = freq.observe(group_obs, *obs_columns)
    wanted = (F.col("__dq_gid").isin(hist_gids) if hist_gids
              else F.col("__dq_gid") == F.lit(-1))
    histogram_rows = observed.where(wanted)
    if scan is None:
        rows = histogram_rows.collect()
    else:
        rows = _collect_with_scan(histogram_rows, scan, scan_values)
    values = _observed(group_obs, freq, obs_columns)

    out: dict[GroupSpec, dict[str, Any]] = {}
    for j, spec in enumerate(batch):
        info = names[spec]
        zero = {"clnc": 0.0}
        stats: dict[str, Any] = {stat: values.get(f"{stat}_{j}") or zero.get(stat, 0)
                                 for stat in (*GROUP_STATS, "all") if f"{stat}_{j}" in values}
        if spec.histogram:
            key, where_flag, sum_alias = info["key"], info.get("where"), info.get("sum")
            hist_rows = []
            for r in rows:
                if r["__dq_gid"] != gids[spec] or (where_flag and not r[where_flag]):
                    continue
                amount = (r[sum_alias] or 0.0) if sum_alias else r["__dq_cnt"]
                hist_rows.append((r[key], amount))
            stats["rows"] = hist_rows
            stats["edges"] = list(spec.edges) if spec.edges else None
        out[spec] = stats
    return out


__all__ = ["compute_metrics", "AnalysisException"]

"""Plan and run all analyzers of a run in the fewest Spark jobs.

One Spark action computes everything that can share it:

1. The analyzers' columns are selected once; every scan aggregate (Size, Completeness, Mean, ...,
   percentiles, HyperLogLog, data type counts, correlation) is attached to that projection with
   ``DataFrame.observe`` - Spark computes observed metrics inside the tasks of whatever action
   runs over the data, so they cost no extra job and no shuffle.
2. Every grouping analyzer contributes a grouping set (its columns, plus a boolean column for its
   ``where``; histograms group a derived string key). All grouping sets are counted by one
   ``GROUP BY ... GROUPING SETS`` (Spark's Expand + partial aggregation, one shuffle), and the
   per-set summaries (rows, distinct groups, groups of size one, sum of c*ln(c), duplicate rows)
   are again observed metrics on the frequency table. The action collects only the histogram
   rows (what Deequ collects too).

With AQE on, such an action is two Spark jobs (the shuffle map stage and the result stage);
without grouping analyzers it is one (a ``noop`` write). MutualInformation needs marginal
frequencies and runs one extra query; HistogramBinned with ``binCount`` needs min and max first.

Spark's optimizer may remove an observation altogether when it proves the input empty (an empty
local relation); the engine then computes the same aggregates directly, so results never depend
on that.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from quality.analyzers import (
    NULL_FIELD_REPLACEMENT,
    Analyzer,
    DuplicateRowCount,
    GroupSpec,
    Histogram,
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
    results: dict[Analyzer, Any] = {}
    runnable: list[tuple[Analyzer, Analyzer]] = []  # (as asked, as computed)
    expression_errors: dict[str, Exception | None] = {}
    for analyzer in unique:
        effective = (analyzer.resolved(schema) if isinstance(analyzer, DuplicateRowCount)
                     else analyzer)
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


def _referenced_columns(df: DataFrame, analyzers: Sequence[Analyzer]) -> list[str]:
    """A superset of the columns the analyzers read (names mentioned in SQL snippets count)."""
    wanted: set[str] = set()
    texts: list[str] = []
    for a in analyzers:
        wanted.update(a.columns_referenced())
        texts.extend(a.sql_expressions())
        sum_col = a.sum_column() if isinstance(a, Histogram) else None
        if sum_col:
            wanted.add(sum_col)
    blob = "\n".join(texts)
    for name in df.columns:
        if name in wanted:
            continue
        if texts and (name in blob or re.search(re.escape(name), blob, re.IGNORECASE)):
            wanted.add(name)
    return [c for c in df.columns if c in wanted]


def _run_shared(df: DataFrame, scan: list[tuple[Analyzer, Analyzer]],
                group: list[tuple[Analyzer, Analyzer]]) -> dict[Analyzer, Any]:
    """One action for all scan and grouping analyzers (plus batches past 60 grouping columns)."""
    results: dict[Analyzer, Any] = {}
    aggregates: dict[Any, tuple[str, Column]] = {}
    scan_slots: dict[Analyzer, list[str]] = {}
    for a, e in scan:
        slots = []
        for key, column in e.scan_aggregates():
            if key not in aggregates:
                aggregates[key] = (f"__dq_a{len(aggregates)}", column)
            slots.append(aggregates[key][0])
        scan_slots[a] = slots
    scan_columns = [column.alias(alias) for alias, column in aggregates.values()]

    base = df.select(*[col(c) for c in _referenced_columns(df, [e for _, e in scan + group])])
    # Per-row derived values shared by several aggregates of an analyzer (e.g. DataType's regex
    # classification) are projected once; the optimizer keeps non-cheap expressions that are
    # referenced more than once in the projection instead of inlining them into each aggregate.
    projections: dict[str, Column] = {}
    for _, e in scan:
        for alias, column in getattr(e, "scan_projections", lambda: [])():
            projections.setdefault(alias, column.alias(alias))
    if projections:
        base = base.select("*", *projections.values())

    specs: dict[GroupSpec, list[tuple[Analyzer, Analyzer]]] = {}
    edges: dict[Analyzer, list[float]] = {}
    binned_bounds = [e for _, e in group if isinstance(e, HistogramBinned) and e.needs_bounds()]
    if binned_bounds:
        edges.update(_bin_edges(base, binned_bounds))
    for a, e in group:
        spec = e.group_spec(edges.get(e)) if isinstance(e, HistogramBinned) else e.group_spec()
        specs.setdefault(spec, []).append((a, e))

    scan_values: dict[str, Any] = {}
    try:
        group_stats = _run_groups(base, scan_columns, list(specs), scan_values)
    except Exception as exc:  # noqa: BLE001 - Spark failure: every metric of the pass fails
        log.warning("quality analysis pass failed: %s", exc)
        failure = MetricCalculationRuntimeException(str(exc).strip().splitlines()[0]
                                                    if str(exc).strip() else repr(exc))
        for a, _ in scan + group:
            results[a] = a.to_failure(failure)
        return results

    for a, e in scan:
        results[a] = _safe(a, lambda e=e, a=a: e.from_scan([scan_values.get(s)
                                                            for s in scan_slots[a]]))
    for spec, members in specs.items():
        stats = group_stats[spec]
        for a, _effective in members:
            results[a] = _safe(a, lambda a=a, stats=stats: a.from_group(stats))
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


def _run_groups(base: DataFrame, scan_columns: list[Column], specs: list[GroupSpec],
                scan_values: dict[str, Any]) -> dict[GroupSpec, dict[str, Any]]:
    """Run the shared action(s); fill ``scan_values`` and return per-spec statistics."""
    scan_obs = Observation(f"dq_scan_{uuid.uuid4().hex}") if scan_columns else None
    observed = base.observe(scan_obs, *scan_columns) if scan_obs is not None else base
    stats: dict[GroupSpec, dict[str, Any]] = {}

    if not specs:
        observed.write.format("noop").mode("overwrite").save()
    else:
        first = True
        for batch in _batches(specs):
            source = observed if first else base
            stats.update(_run_group_batch(source, batch))
            first = False

    if scan_obs is not None:
        values = scan_obs.get
        if not values:
            # The optimizer removed the observation (provably empty input): compute directly.
            values = base.agg(*scan_columns).collect()[0].asDict()
        scan_values.update(values)
    return stats


def _run_group_batch(source: DataFrame, batch: list[GroupSpec]) -> dict[GroupSpec, dict[str, Any]]:
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

    gid, cnt = F.col("__dq_gid"), F.col("__dq_cnt")
    obs_columns: list[Column] = []
    for j, spec in enumerate(batch):
        valid = gid == F.lit(gids[spec])
        info = names[spec]
        if info.get("where"):
            valid = valid & F.col(info["where"])
        if not spec.histogram:
            any_value = None
            for c in spec.columns:
                term = col(c).isNotNull()
                any_value = term if any_value is None else (any_value | term)
            valid = valid & any_value  # type: ignore[operator]
            obs_columns += [
                F.count(F.when(valid, 1)).alias(f"g{j}"),
                F.count(F.when(valid & (cnt == 1), 1)).alias(f"u{j}"),
                F.sum(F.when(valid, cnt * F.log(cnt))).alias(f"e{j}"),
                F.sum(F.when(valid & (cnt > 1), cnt)).alias(f"d{j}"),
            ]
        obs_columns.append(F.sum(F.when(valid, cnt)).alias(f"n{j}"))

    group_obs = Observation(f"dq_groups_{uuid.uuid4().hex}")
    hist_gids = [gids[s] for s in batch if s.histogram]
    observed = freq.observe(group_obs, *obs_columns)
    wanted = (F.col("__dq_gid").isin(hist_gids) if hist_gids
              else F.col("__dq_gid") == F.lit(-1))
    rows = observed.where(wanted).collect()
    values = group_obs.get
    if not values:
        values = freq.agg(*obs_columns).collect()[0].asDict()

    out: dict[GroupSpec, dict[str, Any]] = {}
    for j, spec in enumerate(batch):
        info = names[spec]
        stats: dict[str, Any] = {
            "n": values.get(f"n{j}") or 0,
            "groups": values.get(f"g{j}") or 0,
            "unique": values.get(f"u{j}") or 0,
            "clnc": values.get(f"e{j}") or 0.0,
            "dup": values.get(f"d{j}") or 0,
        }
        if spec.histogram:
            key, flag, sum_alias = info["key"], info.get("where"), info.get("sum")
            hist_rows = []
            for r in rows:
                if r["__dq_gid"] != gids[spec] or (flag and not r[flag]):
                    continue
                amount = (r[sum_alias] or 0.0) if sum_alias else r["__dq_cnt"]
                hist_rows.append((r[key], amount))
            stats["rows"] = hist_rows
            stats["edges"] = list(spec.edges) if spec.edges else None
        out[spec] = stats
    return out


__all__ = ["compute_metrics", "AnalysisException"]

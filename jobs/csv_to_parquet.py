"""Convert a raw CSV folder to typed, partitioned Parquet in the curated zone.

Rows that do not parse (wrong field count) or whose values do not cast to the declared type are
written to the quarantine zone with the source file and a reason; none is dropped silently. The
job fails (exit code 1) when the share of bad rows passes ``max_bad_row_fraction``.

Runs as ``python -m jobs.csv_to_parquet``, ``lakeforge run csv_to_parquet`` or
``spark-submit jobs/csv_to_parquet.py``, with ``--env``, ``--config`` and ``--KEY value`` overrides.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from dataclasses import dataclass, field
from typing import Literal

from lakeforge.config import EnvConfig
from lakeforge.errors import ConfigError
from lakeforge.io import require_input_path
from lakeforge.job import JobContext, run_job
from lakeforge.paths import Lake, validate_identifier

log = logging.getLogger(__name__)

SUPPORTED_TYPES = {
    "string", "int", "bigint", "smallint", "tinyint", "double", "float", "boolean", "date",
    "timestamp",
}


@dataclass(frozen=True)
class CsvInput:
    path: str
    delimiter: str = ","
    header: bool = True
    encoding: str = "UTF-8"


@dataclass(frozen=True)
class ParquetOutput:
    table: str
    database: str | None = None
    partition_by: list[str] = field(default_factory=list)
    mode: Literal["overwrite", "append"] = "overwrite"
    register_table: bool = True


@dataclass(frozen=True)
class CsvToParquetConfig:
    input: CsvInput
    output: ParquetOutput
    columns: dict[str, str] = field(default_factory=dict)
    max_bad_row_fraction: float = 0.05

    def validate(self) -> None:
        validate_identifier(self.output.table, "output.table")
        if self.output.database:
            validate_identifier(self.output.database, "output.database")
        if not self.columns:
            raise ConfigError("columns: declare at least one column as name: type")
        for name, typ in self.columns.items():
            validate_identifier(name, f"columns.{name}")
            if typ.lower() not in SUPPORTED_TYPES and not typ.lower().startswith("decimal("):
                raise ConfigError(
                    f"columns.{name}: type {typ!r} is not supported; use one of "
                    f"{sorted(SUPPORTED_TYPES)} or decimal(p,s)"
                )
        missing = [c for c in self.output.partition_by if c not in self.columns]
        if missing:
            raise ConfigError(
                f"output.partition_by: {missing} not among the declared columns "
                f"{list(self.columns)}"
            )
        if not 0.0 <= self.max_bad_row_fraction <= 1.0:
            raise ConfigError("max_bad_row_fraction must be between 0 and 1")


def check_inputs(cfg: CsvToParquetConfig, env: EnvConfig, lake: Lake) -> None:
    """Fail before Spark starts when the input folder is missing or empty."""
    require_input_path(lake.resolve("raw", cfg.input.path), "input.path")


def run(ctx: JobContext[CsvToParquetConfig]) -> int:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    cfg = ctx.config
    spark = ctx.spark
    source = require_input_path(ctx.lake.resolve("raw", cfg.input.path), "input.path")
    database = cfg.output.database or ctx.env.catalog.database
    target = ctx.lake.require_inside(ctx.lake.table_uri("curated", cfg.output.table, database))
    run_id = uuid.uuid4().hex[:12]

    # Read every field as a string first, so a bad value is caught per row, not per file.
    raw_schema = StructType(
        [StructField(c, StringType(), True) for c in cfg.columns]
        + [StructField("_corrupt_record", StringType(), True)]
    )
    raw = (
        spark.read.schema(raw_schema)
        .option("header", cfg.input.header)
        .option("sep", cfg.input.delimiter)
        .option("encoding", cfg.input.encoding)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .option("enforceSchema", False)
        .csv(source)
        .withColumn("_source_file", F.input_file_name())
    )
    typed_cols = []
    problems = []
    for name, typ in cfg.columns.items():
        casted = F.expr(f"try_cast(`{name}` AS {typ})")
        typed_cols.append(casted.alias(name))
        problems.append(
            F.when(
                F.col(name).isNotNull() & casted.isNull(),
                F.concat(F.lit(f"column {name}: value '"), F.col(name), F.lit(f"' is not a {typ}")),
            )
        )
    reason = F.when(
        F.col("_corrupt_record").isNotNull(),
        F.lit(f"malformed CSV line: expected {len(cfg.columns)} fields"),
    ).otherwise(F.concat_ws("; ", *problems))
    typed = [c.alias(f"__typed_{n}") for c, n in zip(typed_cols, cfg.columns, strict=True)]
    checked = raw.select("*", *typed, reason.alias("_reason")).cache()

    bad = checked.where(F.col("_reason") != "")
    good = checked.where(F.col("_reason") == "").select(
        *[F.col(f"__typed_{n}").alias(n) for n in cfg.columns]
    )
    total = checked.count()
    n_bad = bad.count()
    n_good = total - n_bad

    if n_bad:
        quarantine = ctx.lake.path("quarantine", database, cfg.output.table, f"run_id={run_id}")
        (
            bad.select(
                F.col("_source_file").alias("source_file"),
                F.coalesce(
                    F.col("_corrupt_record"),
                    F.to_json(F.struct(*[F.col(c) for c in cfg.columns])),
                ).alias("record"),
                F.col("_reason").alias("reason"),
                F.lit(run_id).alias("run_id"),
                F.current_timestamp().alias("quarantined_at"),
            )
            .write.mode("append")
            .json(quarantine)
        )
        log.warning("%d of %d rows quarantined to %s", n_bad, total, quarantine)

    bad_fraction = n_bad / total if total else 0.0
    if bad_fraction > cfg.max_bad_row_fraction:
        print(
            f"error: {n_bad} of {total} rows ({bad_fraction:.1%}) are bad, more than "
            f"max_bad_row_fraction {cfg.max_bad_row_fraction:.1%}; nothing was published; "
            "see the quarantine zone for the rows and reasons",
            file=sys.stderr,
        )
        checked.unpersist()
        return 1

    writer = good.write.mode(cfg.output.mode)
    if cfg.output.partition_by:
        writer = writer.partitionBy(*cfg.output.partition_by)
    writer.parquet(target)
    checked.unpersist()

    table_name = f"{database}.{cfg.output.table}"
    if cfg.output.register_table and spark.conf.get("spark.sql.catalogImplementation") == "hive":
        register_parquet_table(spark, database, cfg.output.table, good.schema, target,
                               cfg.output.partition_by)
    summary = {
        "job": ctx.name, "run_id": run_id, "input": source, "output": target,
        "table": table_name, "rows_in": total, "rows_published": n_good,
        "rows_quarantined": n_bad,
    }
    log.info("summary %s", json.dumps(summary))
    print(json.dumps(summary))
    return 0


def register_parquet_table(spark, database, table, schema, location, partition_by) -> None:  # type: ignore[no-untyped-def]
    """Register an external Parquet table over ``location`` and discover its partitions."""
    cols = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}"
        for f in schema.fields
        if f.name not in partition_by
    )
    parts = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields if f.name in partition_by
    )
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{table}`")
    ddl = f"CREATE EXTERNAL TABLE `{database}`.`{table}` ({cols})"
    if parts:
        ddl += f" PARTITIONED BY ({parts})"
    ddl += f" STORED AS PARQUET LOCATION '{location}'"
    spark.sql(ddl)
    if parts:
        spark.sql(f"MSCK REPAIR TABLE `{database}`.`{table}`")


def main(argv: list[str] | None = None) -> int:
    return run_job("csv_to_parquet", CsvToParquetConfig, run, argv, preflight=check_inputs)


if __name__ == "__main__":
    sys.exit(main())

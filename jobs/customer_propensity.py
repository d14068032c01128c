"""The main job: bank-marketing propensity, raw zone to Athena tables and SageMaker splits.

crawl raw -> read through the catalog (contacts: only partitions with new files, per the job
bookmark) -> ApplyMapping / DropNullFields -> FindMatches on customers (golden customer id) ->
joins with customers and monthly indicators -> quality gate (failing rows to quarantine; an
Error-level failure stops the publish) -> publish curated tables atomically -> features fitted
on the train split over the whole curated table -> SageMaker CSV/Parquet splits + manifest ->
metrics to the repository -> run summary (JSON + HTML) -> ledger check -> bookmark commit.

Runs as ``lakeforge run customer_propensity --env local`` (or python -m / spark-submit / Glue).
"""

from __future__ import annotations

import html
import json
import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lakeforge.bookmarks import OPTIONS as BOOKMARK_OPTIONS
from lakeforge.bookmarks import JobBookmarks, list_data_files
from lakeforge.config import EnvConfig
from lakeforge.errors import ConfigError, InputPathError
from lakeforge.io import require_input_path
from lakeforge.job import JobContext, run_job
from lakeforge.ledger import RunLedger
from lakeforge.locks import JobLock
from lakeforge.paths import Lake, validate_identifier
from lakeforge.state import store_for

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sources:
    customers: str = "customers"
    contacts: str = "contacts"
    indicators: str = "indicators"


@dataclass(frozen=True)
class DedupSettings:
    columns: list[str] = field(default_factory=lambda: ["first_name", "last_name",
                                                        "date_of_birth", "email", "phone",
                                                        "postcode"])
    precision_recall_tradeoff: float = 0.5
    max_em_iterations: int = 10


@dataclass(frozen=True)
class CustomerPropensityConfig:
    customer_mappings: list[list[str]]
    contact_mappings: list[list[str]]
    features: dict[str, Any]
    database: str = "lakeforge"
    raw_database: str = "lakeforge_raw"
    sources: Sources = field(default_factory=Sources)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    quality_suite: str = "customer_propensity"
    max_bad_row_fraction: float = 0.05
    version_retention_hours: float = 24.0
    bookmark_option: str = "job-bookmark-enable"

    def validate(self) -> None:
        validate_identifier(self.database, "database")
        validate_identifier(self.raw_database, "raw_database")
        for name in ("customer_mappings", "contact_mappings"):
            for i, m in enumerate(getattr(self, name)):
                if len(m) != 4:
                    raise ConfigError(f"{name}[{i}]: a mapping has 4 entries (source, type, "
                                      f"target, type), got {m}")
        if self.bookmark_option not in BOOKMARK_OPTIONS:
            raise ConfigError(f"bookmark_option {self.bookmark_option!r}: use one of "
                              f"{list(BOOKMARK_OPTIONS)}")
        if not 0 <= self.max_bad_row_fraction <= 1:
            raise ConfigError("max_bad_row_fraction must be between 0 and 1")
        from transforms.features import feature_spec_from_mapping

        feature_spec_from_mapping(self.features, "customer_propensity config")


def check_inputs(cfg: CustomerPropensityConfig, env: EnvConfig, lake: Lake) -> None:
    """Before Spark starts: every raw source folder must exist and hold files."""
    for name in (cfg.sources.customers, cfg.sources.contacts, cfg.sources.indicators):
        require_input_path(lake.path("raw", name), f"raw source '{name}'")


# --------------------------------------------------------------------------- reading


def _string_schema(columns: list[tuple[str, str]], extra: str = "") -> str:
    cols = [f"`{name}` string" for name, _ in columns]
    return ", ".join(cols + ([extra] if extra else []))


def _quarantine(df: DataFrame, lake: Lake, table: str, run_id: str) -> str:
    path = lake.require_inside(lake.path("quarantine", table, f"run_id={run_id}"), "quarantine")
    df.write.mode("append").json(path)
    return path


def _malformed(df: DataFrame, reason: str, run_id: str) -> DataFrame:
    from pyspark.sql import functions as F

    return df.where(F.col("_corrupt_record").isNotNull()).select(
        F.col("_source_file").alias("source_file"), F.col("_corrupt_record").alias("record"),
        F.lit(reason).alias("reason"), F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("quarantined_at"))


# --------------------------------------------------------------------------- the job


def run(ctx: JobContext[CustomerPropensityConfig]) -> int:
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from lakeforge.catalog.factory import get_catalog
    from lakeforge.crawler import crawl
    from lakeforge.publish import publish_partitioned, write_text
    from quality.repository import FileSystemMetricsRepository, ResultKey
    from quality.suite import QualityGateError, failing_rows, html_report, load_suite, quality_gate
    from transforms import features as feat
    from transforms.dedup import find_matches
    from transforms.glue import apply_mapping, drop_null_fields, join

    cfg, spark, lake = ctx.config, ctx.spark, ctx.lake
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "_" + uuid.uuid4().hex[:6]
    started = time.monotonic()
    option = ctx.args.glue_args.get("job-bookmark-option", cfg.bookmark_option)
    store = store_for(lake.zone("bookmarks"), region=ctx.env.aws.region,
                      endpoint_url=ctx.env.aws.endpoint_url)
    summary: dict[str, Any] = {"job": ctx.name, "run_id": run_id, "env": ctx.env.name,
                               "lake_root": lake.root, "bookmark_option": option}
    lock = JobLock(store, f"{ctx.name}.{cfg.database}", ttl_seconds=6 * 3600).acquire()
    try:
        catalog = get_catalog(ctx.env, spark)
        # 1. crawl the raw zone into the raw database
        report = crawl([lake.path("raw", s) for s in (cfg.sources.customers, cfg.sources.contacts,
                                                       cfg.sources.indicators)],
                       database=cfg.raw_database, catalog=catalog)
        summary["crawl"] = {"tables": [t.name for t in report.tables],
                            "partitions_added": sum(t.partitions_added for t in report.tables),
                            "skipped": [{"path": s.path, "reason": s.reason}
                                        for s in report.skipped]}
        tables = {t.name: t for t in report.tables}
        for source in (cfg.sources.customers, cfg.sources.contacts, cfg.sources.indicators):
            if source not in tables:
                raise InputPathError(f"the crawler found no table for raw source '{source}' "
                                     f"under {lake.path('raw', source)}; skipped: "
                                     f"{summary['crawl']['skipped']}")

        # 2. bookmarks: which files are new
        marks = JobBookmarks(store, ctx.name, option=option)
        contact_files = []
        for part in catalog.get_partitions(cfg.raw_database, cfg.sources.contacts):
            contact_files += list_data_files(part.location)
        new_contacts = marks.select("contacts", contact_files)
        new_customers = marks.select("customers", list_data_files(
            tables[cfg.sources.customers].location))
        summary["new_files"] = {"contacts": len(new_contacts), "customers": len(new_customers)}
        if not new_contacts and not new_customers:
            summary["status"] = "nothing new: every raw file was already processed"
            log.info(summary["status"])
            print(json.dumps(summary))
            return 0

        # 3. customers: read all (a snapshot dimension), quarantine malformed lines, type, dedup
        cust_t = tables[cfg.sources.customers]
        customers_raw = (
            spark.read.schema(_string_schema(cust_t.columns, "_corrupt_record string"))
            .option("header", True).option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .csv(cust_t.location).withColumn("_source_file", F.input_file_name()).cache()
        )
        cust_ledger = RunLedger(f"{cfg.database}.customers_golden")
        cust_ledger.rows_in = customers_raw.count()
        bad_customers = _malformed(customers_raw, "malformed CSV line", run_id)
        cust_ledger.quarantined = bad_customers.count()
        if cust_ledger.quarantined:
            _quarantine(bad_customers, lake, f"{cfg.database}/customers", run_id)
        customers = drop_null_fields(apply_mapping(
            customers_raw.where(F.col("_corrupt_record").isNull()),
            [tuple(m) for m in cfg.customer_mappings]))
        summary["dropped_null_fields"] = sorted(
            {m[2] for m in cfg.customer_mappings} - set(customers.columns))
        matched = find_matches(customers, primary_key="customer_id",
                               columns=[c for c in cfg.dedup.columns if c in customers.columns],
                               precision_recall_tradeoff=cfg.dedup.precision_recall_tradeoff,
                               max_em_iterations=cfg.dedup.max_em_iterations)
        by_match = Window.partitionBy("match_id")
        matched = matched.withColumn("golden_customer_id",
                                     F.min("customer_id").over(by_match)).cache()
        completeness = sum(F.col(c).isNotNull().cast("int") for c in customers.columns)
        best = Window.partitionBy("golden_customer_id").orderBy(completeness.desc(),
                                                               F.col("customer_id"))
        golden = (matched.withColumn("_rank", F.row_number().over(best)).where("_rank = 1")
                  .drop("_rank", "match_id", "match_confidence_score", "customer_id"))
        n_matched = matched.count()
        n_golden = matched.select("golden_customer_id").distinct().count()
        cust_ledger.published = n_golden
        cust_ledger.merged_duplicates = n_matched - n_golden

        # 4. contacts: only the new files, through the catalog's schema
        cont_t = tables[cfg.sources.contacts]
        contacts_ledger = RunLedger(f"{cfg.database}.contacts_enriched")
        cont_cols = [(n, t) for n, t in cont_t.columns if n not in cont_t.partition_keys]
        cont_schema = ", ".join([f"`{n}` {t}" for n, t in cont_cols]
                                + [f"`{k}` string" for k in cont_t.partition_keys]
                                + ["_corrupt_record string"])
        if new_contacts:
            contacts_raw = (
                spark.read.schema(cont_schema).option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", "_corrupt_record")
                .option("basePath", cont_t.location)
                .json([f.path for f in new_contacts])
                .withColumn("_source_file", F.input_file_name()).cache()
            )
        else:
            contacts_raw = spark.createDataFrame([], cont_schema + ", _source_file string")
        contacts_ledger.rows_in = contacts_raw.count()
        bad_contacts = _malformed(contacts_raw, "malformed JSON line", run_id)
        n_bad_contacts = bad_contacts.count()
        # A mapped column the catalog does not know yet (drift still to come) is added as null,
        # so every run publishes the same schema.
        for m in cfg.contact_mappings:
            if m[0] not in contacts_raw.columns:
                contacts_raw = contacts_raw.withColumn(m[0], F.lit(None).cast(m[1]))
        mappings = [tuple(m) for m in cfg.contact_mappings]
        contacts = apply_mapping(contacts_raw.where(F.col("_corrupt_record").isNull()), mappings)

        # 5. joins: golden customer, then the month's indicators
        ind_t = tables[cfg.sources.indicators]
        indicators = spark.read.option("header", True).option("inferSchema", True).csv(
            ind_t.location)
        links = matched.select(F.col("customer_id").alias("m_customer_id"), "golden_customer_id")
        with_golden = contacts.join(links, contacts["customer_id"] == links["m_customer_id"],
                                    "left")
        orphans = with_golden.where(F.col("golden_customer_id").isNull())
        orphan_rows = orphans.select(
            F.lit(None).cast("string").alias("source_file"),
            F.to_json(F.struct(*[F.col(c) for c in contacts.columns])).alias("record"),
            F.lit("unknown customer_id: no such customer").alias("reason"),
            F.lit(run_id).alias("run_id"), F.current_timestamp().alias("quarantined_at"))
        n_orphans = orphans.count()
        to_quarantine = bad_contacts.unionByName(orphan_rows)
        if n_bad_contacts + n_orphans:
            _quarantine(to_quarantine, lake, f"{cfg.database}/contacts", run_id)
        golden_attrs = golden.withColumnRenamed("golden_customer_id", "g_id")
        enriched = join(
            with_golden.where(F.col("golden_customer_id").isNotNull()).drop("m_customer_id"),
            golden_attrs, "golden_customer_id", "g_id").drop("g_id")
        enriched = enriched.withColumn("_month", F.date_format("contact_date", "yyyy-MM"))
        enriched = join(enriched, indicators.withColumnRenamed("month", "ind_month"),
                        "_month", "ind_month").drop("_month", "ind_month")
        enriched = enriched.withColumn(
            "age", F.floor(F.months_between("contact_date", "date_of_birth") / 12).cast("int"))
        keep = [c for c in enriched.columns if c not in
                ("first_name", "last_name", "email", "phone", "date_of_birth", "postcode")]
        enriched = enriched.select(*keep).cache()
        n_enriched = enriched.count()
        contacts_ledger.remove("no indicators for the contact's month",
                               contacts_ledger.rows_in - n_bad_contacts - n_orphans - n_enriched)

        # 6. quality gate
        suite_name, checks = load_suite(cfg.quality_suite)
        repo = FileSystemMetricsRepository(spark, lake.path("metadata", "quality",
                                                            "metrics.json"))
        key = ResultKey(tags={"job": ctx.name, "table": "contacts_enriched", "run_id": run_id})
        try:
            gate = quality_gate(spark, enriched, checks, lake=lake,
                                table=f"{cfg.database}/contacts_enriched", run_id=run_id,
                                repository=repo, result_key=key)
        except QualityGateError as exc:
            summary["status"] = f"quality gate failed: {exc}"
            print(f"error: {exc}", file=sys.stderr)
            _write_summary(lake, summary, write_text)
            return 1
        failing = failing_rows(gate.result, enriched).select("contact_id")
        n_failing = failing.count()
        passed = enriched.join(failing, "contact_id", "left_anti")
        contacts_ledger.quarantined = n_bad_contacts + n_orphans + n_failing
        contacts_ledger.published = n_enriched - n_failing
        total_bad = contacts_ledger.quarantined + cust_ledger.quarantined
        total_in = contacts_ledger.rows_in + cust_ledger.rows_in
        if total_in and total_bad / total_in > cfg.max_bad_row_fraction:
            summary["status"] = (f"{total_bad} of {total_in} rows quarantined, more than "
                                 f"max_bad_row_fraction {cfg.max_bad_row_fraction}")
            print(f"error: {summary['status']}; nothing published", file=sys.stderr)
            _write_summary(lake, summary, write_text)
            return 1

        # 7. publish curated tables (atomic switch per table)
        retention = timedelta(hours=cfg.version_retention_hours)
        published = {}
        res = publish_partitioned(golden, database=cfg.database, table="customers_golden",
                                  partition_by=[], catalog=catalog, lake=lake, mode="overwrite",
                                  retention=retention, run_id=run_id.split("_")[-1])
        published["customers_golden"] = {"rows": res.rows, "version": res.version}
        res = publish_partitioned(
            matched.select("customer_id", "golden_customer_id", "match_confidence_score"),
            database=cfg.database, table="customer_matches", partition_by=[], catalog=catalog,
            lake=lake, mode="overwrite", retention=retention, run_id=run_id.split("_")[-1])
        published["customer_matches"] = {"rows": res.rows, "version": res.version}
        if contacts_ledger.published:
            res = publish_partitioned(passed, database=cfg.database, table="contacts_enriched",
                                      partition_by=["dt"], catalog=catalog, lake=lake,
                                      mode="overwrite_partitions", retention=retention,
                                      run_id=run_id.split("_")[-1])
            published["contacts_enriched"] = {
                "rows": res.rows, "version": res.version,
                "partitions": sorted(p.values[0] or "" for p in res.partition_stats)}

        # 8. features over the whole curated table (fit on train only) + SageMaker splits
        spec = feat.feature_spec_from_mapping(cfg.features, "customer_propensity config")
        curated = spark.table(f"{cfg.database}.contacts_enriched").withColumn(
            spec.label, (F.col("y") == "yes").cast("double"))
        split = feat.with_split(curated, key=spec.entity_key, split=spec.split,
                                stratify_by=spec.label).cache()
        model = feat.fit_feature_pipeline(split.where(F.col(spec.split.column) == "train"), spec)
        ref = feat.save_feature_model(model, spec, lake=lake)
        scored = model.transform(split)
        names = feat.feature_names(scored.schema, spec)
        out_files = {}
        base = lake.path("features", spec.name)
        for part in ("train", "validation", "test"):
            rows = scored.where(F.col(spec.split.column) == part)
            out_files[f"{part}_csv"] = feat.write_sagemaker_csv(
                rows, f"{base}/csv/{part}", label=spec.label, lake=lake, feature_names=names,
                features_col=spec.output_col, mode="overwrite")
            out_files[f"{part}_parquet"] = feat.write_sagemaker_parquet(
                rows, f"{base}/parquet/{part}", label=spec.label, lake=lake,
                feature_names=names, features_col=spec.output_col, mode="overwrite")
        manifest = feat.build_feature_manifest(
            scored.where(F.col(spec.split.column) == "train"), spec, version=ref.version,
            files=out_files)
        manifest_uri = feat.write_feature_manifest(manifest, f"{base}/manifest.json", lake=lake)
        split_counts = {r[0]: r[1] for r in split.groupBy(spec.split.column).count().collect()}
        split.unpersist()

        # 9. ledgers, summary, then (only then) the bookmark
        summary.update({
            "status": "published",
            "rows": {"customers": cust_ledger.to_dict(), "contacts": contacts_ledger.to_dict()},
            "duplicates_merged": cust_ledger.merged_duplicates,
            "checks": {"suite": suite_name, "passed": gate.passed,
                       "failed_constraints": gate.failed_constraints,
                       "quarantine": gate.quarantine_path},
            "published": published,
            "features": {"model_version": ref.version, "manifest": manifest_uri,
                         "splits": split_counts, "files": out_files, "n_features": len(names)},
            "seconds": round(time.monotonic() - started, 1),
        })
        cust_ledger.check()
        contacts_ledger.check()
        summary["summary_files"] = _write_summary(lake, summary, write_text,
                                                  html_report(gate.result, suite_name))
        marks.commit(run_id)
        print(json.dumps(summary))
        return 0
    finally:
        lock.release()
        spark.catalog.clearCache()


def _write_summary(lake: Lake, summary: dict[str, Any], write_text: Any,
                   quality_html: str = "") -> dict[str, str]:
    folder = lake.path("metadata", "runs", summary["run_id"])
    json_uri, html_uri = f"{folder}/run_summary.json", f"{folder}/run_summary.html"
    write_text(json_uri, json.dumps(summary, indent=2, default=str))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td><pre>"
                   f"{html.escape(json.dumps(v, indent=1, default=str))}</pre></td></tr>"
                   for k, v in summary.items())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{summary['job']} "
            f"{summary['run_id']}</title></head><body><h1>Run {html.escape(summary['run_id'])}"
            f"</h1><table border='1' cellpadding='4'>{rows}</table>"
            f"<h2>Quality</h2>{quality_html}</body></html>")
    write_text(html_uri, page)
    return {"json": json_uri, "html": html_uri}


def main(argv: list[str] | None = None) -> int:
    return run_job("customer_propensity", CustomerPropensityConfig, run, argv,
                   preflight=check_inputs)


if __name__ == "__main__":
    sys.exit(main())

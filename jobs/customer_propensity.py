"""The main job: bank-marketing propensity, raw zone to Athena tables and SageMaker splits.

Business steps only; the lifecycle (lakeforge.lifecycle) reads the sources declared in
conf/jobs/customer_propensity.yaml with line-level quarantine, checks drift, counts the
ledger, audits, publishes, writes the features and commits the bookmark. The steps:

* customers: all-null fields dropped (Glue DropNullFields), fuzzy duplicates matched
  (FindMatches on Splink); ``match_id`` is the smallest customer_id of an entity and becomes
  the golden customer id; the most complete record of each entity is its golden record, the
  others count as merged duplicates. With ``incremental_dedup`` (golden and matches in Delta or
  Iceberg) a run matches only the customers its published matches lack against them, with the
  model kept from the first run (FindIncrementalMatches), and MERGEs the golden records of the
  entities it touched and the new matches (docs/formats.md, "Incremental golden records");
* contacts: contacts of unknown customers go to quarantine, a contact repeated in one partition
  (a replayed file) keeps its first line, then the golden customer's attributes and the month's
  economic indicators are joined (a month without indicators removes the contact by rule);
* features: the label is ``y == 'yes'``.

Runs as ``lakeforge run customer_propensity --env local`` (or python -m / spark-submit /
Glue); ``--phase write|audit|publish`` runs one phase.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError
from lakeforge.lifecycle import MERGED, Job, PipelineConfig, Steps, run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SOURCES = ("customers", "contacts", "indicators")
OUTPUTS = ("golden", "matches", "contacts")
PII = ("first_name", "last_name", "email", "phone", "date_of_birth", "postcode")
# the ledger rule of an incremental run's golden records it does not republish
UNCHANGED = "unchanged entity (incremental dedup)"


@dataclass(frozen=True, kw_only=True)
class CustomerPropensityConfig(PipelineConfig):
    # transforms.dedup.MatchSettings as a mapping (columns, precision_recall_tradeoff,
    # max_em_iterations, seed, ...), checked before Spark starts.
    dedup: dict[str, Any] = field(default_factory=dict)
    # Match only new or changed customers against the published matches and MERGE the
    # golden records they touch (golden and matches in delta / iceberg); the first run's
    # model is kept and reused. A run with bookmarks disabled re-deduplicates everyone.
    incremental_dedup: bool = False

    def validate(self, source: str) -> None:
        for what, names, have in (("sources", SOURCES, self.sources),
                                  ("outputs", OUTPUTS, self.outputs)):
            missing = sorted(set(names) - set(have))
            if missing:
                raise ConfigError(f"{source}: '{what}' lacks {missing}; this job needs "
                                  f"{list(names)}")
        self.match_settings(source)

    def match_settings(self, source: str = "customer_propensity config",
                       present: list[str] | None = None) -> Any:
        """The dedup settings; ``present`` keeps only the columns the customers still have."""
        from transforms.dedup import MatchSettings

        values = dict(self.dedup)
        if present is not None and values.get("columns"):
            values["columns"] = [c for c in values["columns"] if c in present]
        return MatchSettings.from_dict(values, f"{source}: dedup")


def build(steps: Steps) -> dict[str, DataFrame]:
    """Typed sources -> the golden customers, the customer matches and the enriched contacts."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from transforms.glue import drop_null_fields, join

    cfg: CustomerPropensityConfig = steps.config
    lineage = ("_file", "_line", "_partition", "line")

    # customers: drop all-null fields, match duplicates, keep the most complete record
    mapped = [m[2] for m in cfg.sources["customers"].mappings]
    new_files = list(steps.new_files.get("customers", ()))
    fresh = steps.sources["customers"].where(F.col("_file").isin(new_files)).select(
        "customer_id")
    customers = drop_null_fields(steps.sources["customers"].drop(*lineage))
    steps.facts["dropped_null_fields"] = sorted(set(mapped) - set(customers.columns))
    matched, touched, new_ids = match_customers(steps, customers, fresh)
    matched = matched.cache()
    completeness = sum((F.col(c).isNotNull().cast("int") for c in customers.columns),
                       F.lit(0))
    best = Window.partitionBy("match_id").orderBy(completeness.desc(), F.col("customer_id"))
    ranked = matched.withColumn("_rank", F.row_number().over(best))
    golden = (steps.remove(ranked, F.col("_rank") > 1, MERGED)
              .drop("_rank", "match_confidence_score", "customer_id")
              .withColumnRenamed("match_id", "golden_customer_id"))
    matches = matched.select("customer_id", F.col("match_id").alias("golden_customer_id"),
                             "match_confidence_score")
    links = matches.select(F.col("customer_id").alias("m_customer_id"), "golden_customer_id")
    attrs = (golden.where(F.col("_removed").isNull()).drop("_removed")
             .withColumnRenamed("golden_customer_id", "g_id"))
    if touched is not None and new_ids is not None:
        # incremental: publish (MERGE) only the touched entities' golden records and the
        # new customers' matches; the contacts still join every entity
        golden = steps.remove(golden, ~F.col("golden_customer_id").isin(touched), UNCHANGED)
        steps.publish_changes("golden", ["golden_customer_id"])
        matches = matches.join(new_ids, "customer_id", "left_semi")
        steps.publish_changes("matches", ["customer_id"])

    # contacts: known customers only, first line of a replayed contact, golden attributes
    contacts = steps.sources["contacts"]
    known = contacts["customer_id"] == links["m_customer_id"]
    steps.reject("contacts", contacts.join(links, known, "left_anti"),
                 "unknown customer_id: no such customer (or its record was quarantined)")
    contacts = contacts.join(links, known, "inner").drop("m_customer_id")
    first = Window.partitionBy("_partition", "contact_id").orderBy("_file", "_line")
    contacts = steps.remove(contacts.withColumn("_n", F.row_number().over(first)),
                            F.col("_n") > 1,
                            "duplicate contact_id in a partition (first line kept)").drop("_n")
    enriched = join(contacts, attrs, "golden_customer_id", "g_id").drop("g_id")

    # the month's indicators (compared as yyyy-MM text); a month without them removes the row
    indicators = (steps.sources["indicators"].drop(*lineage)
                  .withColumn("ind_month", F.substring(F.col("month").cast("string"), 1, 7))
                  .drop("month"))
    enriched = enriched.withColumn("_month", F.date_format("contact_date", "yyyy-MM"))
    enriched = enriched.join(indicators, enriched["_month"] == indicators["ind_month"], "left")
    enriched = steps.remove(enriched, F.col("ind_month").isNull(),
                            "no indicators for the contact's month").drop("_month", "ind_month")
    enriched = enriched.withColumn(
        "age", F.floor(F.months_between("contact_date", "date_of_birth") / 12).cast("int"))
    enriched = enriched.drop(*PII)
    return {"golden": golden, "matches": matches, "contacts": enriched}


def match_customers(steps: Steps, customers: DataFrame, fresh: DataFrame
                    ) -> tuple[DataFrame, list[str] | None, DataFrame | None]:
    """``customers`` with ``match_id`` and ``match_confidence_score``, plus (incremental
    runs only) the entity ids the run touched and the ids of the new customers.

    Incremental when ``incremental_dedup`` is on, golden and matches are Delta or Iceberg,
    the matches and their kept model are published and the run is not a full re-run: the
    customers the published matches hold keep their entity (a changed record, one of
    ``fresh`` (read from a new file), stays in it and its entity's golden record is
    recomputed); the others are matched against them with the kept model. Otherwise every
    customer is matched, with the kept model when there is one, else a newly trained one.
    """
    from pyspark.sql import functions as F

    from transforms.dedup import find_incremental_matches, find_matches_detailed

    cfg: CustomerPropensityConfig = steps.config
    settings = cfg.match_settings(present=customers.columns)
    record: dict[str, Any] = {"source": "customers", "output": "matches",
                              "key": "customer_id", "cluster": "golden_customer_id",
                              "keep_model": cfg.incremental_dedup}
    formats = {cfg.outputs[o].format for o in ("golden", "matches")}
    model = published = None
    if cfg.incremental_dedup:
        model = steps.match_model("matches")
        if formats <= {"delta", "iceberg"} and not steps.reprocess_all and model is not None:
            published = steps.published("matches")
    if published is None:
        if model is not None:  # the kept model; columns come from it
            settings = dataclasses.replace(settings, columns=None)
        run = find_matches_detailed(customers, primary_key="customer_id", settings=settings,
                                    model=model)
        steps.record_matching(run, **record)
        return run.result, None, None
    known = published.select("customer_id", F.col("golden_customer_id").alias("match_id"),
                             "match_confidence_score")
    existing = customers.join(known, "customer_id")
    new = customers.join(known, "customer_id", "left_anti")
    changed = existing.join(fresh, "customer_id", "left_semi").select("match_id")
    matched = find_incremental_matches(existing, new, primary_key="customer_id",
                                       settings=settings, model=model).localCheckpoint()
    new_ids = new.select("customer_id").localCheckpoint()
    added = matched.join(new_ids, "customer_id", "left_semi").select("match_id")
    touched = sorted({r[0] for r in added.union(changed).distinct().collect()})
    counts = {"new_rows": new_ids.count(), "changed_rows": changed.count(),
              "entities_touched": len(touched), "model": model}
    steps.record_matching(matched, incremental=counts, **record)
    return matched, touched, new_ids


def with_label(published: DataFrame, cfg: CustomerPropensityConfig) -> DataFrame:
    """The features input: the published contacts plus the label (1.0 when ``y`` is yes)."""
    from pyspark.sql import functions as F

    label = (cfg.features or {})["label"]
    return published.withColumn(label, (F.col("y") == "yes").cast("double"))


JOB = Job("customer_propensity", CustomerPropensityConfig, build, features=with_label)


def main(argv: list[str] | None = None) -> int:
    return run_pipeline(JOB, argv)


if __name__ == "__main__":
    sys.exit(main())

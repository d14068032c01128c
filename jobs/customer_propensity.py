"""The main job: bank-marketing propensity, raw zone to Athena tables and SageMaker splits.

Business steps only; the lifecycle (lakeforge.lifecycle) reads the sources declared in
conf/jobs/customer_propensity.yaml with line-level quarantine, checks drift, counts the
ledger, audits, publishes, writes the features and commits the bookmark. The steps:

* customers: all-null fields dropped (Glue DropNullFields), fuzzy duplicates matched
  (FindMatches on Splink); ``match_id`` is the smallest customer_id of an entity and becomes
  the golden customer id; the most complete record of each entity is its golden record, the
  others count as merged duplicates;
* contacts: contacts of unknown customers go to quarantine, a contact repeated in one partition
  (a replayed file) keeps its first line, then the golden customer's attributes and the month's
  economic indicators are joined (a month without indicators removes the contact by rule);
* features: the label is ``y == 'yes'``.

Runs as ``lakeforge run customer_propensity --env local`` (or python -m / spark-submit /
Glue); ``--phase write|audit|publish`` runs one phase.
"""

from __future__ import annotations

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


@dataclass(frozen=True, kw_only=True)
class CustomerPropensityConfig(PipelineConfig):
    # transforms.dedup.MatchSettings as a mapping (columns, precision_recall_tradeoff,
    # max_em_iterations, seed, ...), checked before Spark starts.
    dedup: dict[str, Any] = field(default_factory=dict)

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

    from transforms.dedup import find_matches_detailed
    from transforms.glue import drop_null_fields, join

    cfg: CustomerPropensityConfig = steps.config
    lineage = ("_file", "_line", "_partition", "line")

    # customers: drop all-null fields, match duplicates, keep the most complete record
    mapped = [m[2] for m in cfg.sources["customers"].mappings]
    customers = drop_null_fields(steps.sources["customers"].drop(*lineage))
    steps.facts["dropped_null_fields"] = sorted(set(mapped) - set(customers.columns))
    run = find_matches_detailed(customers, primary_key="customer_id",
                                settings=cfg.match_settings(present=customers.columns))
    matched = run.result.cache()
    steps.record_matching(run, source="customers", output="matches", key="customer_id",
                          cluster="golden_customer_id")
    completeness = sum((F.col(c).isNotNull().cast("int") for c in customers.columns),
                       F.lit(0))
    best = Window.partitionBy("match_id").orderBy(completeness.desc(), F.col("customer_id"))
    ranked = matched.withColumn("_rank", F.row_number().over(best))
    golden = (steps.remove(ranked, F.col("_rank") > 1, MERGED)
              .drop("_rank", "match_confidence_score", "customer_id")
              .withColumnRenamed("match_id", "golden_customer_id"))
    matches = matched.select("customer_id", F.col("match_id").alias("golden_customer_id"),
                             "match_confidence_score")

    # contacts: known customers only, first line of a replayed contact, golden attributes
    contacts = steps.sources["contacts"]
    links = matches.select(F.col("customer_id").alias("m_customer_id"), "golden_customer_id")
    known = contacts["customer_id"] == links["m_customer_id"]
    steps.reject("contacts", contacts.join(links, known, "left_anti"),
                 "unknown customer_id: no such customer (or its record was quarantined)")
    contacts = contacts.join(links, known, "inner").drop("m_customer_id")
    first = Window.partitionBy("_partition", "contact_id").orderBy("_file", "_line")
    contacts = steps.remove(contacts.withColumn("_n", F.row_number().over(first)),
                            F.col("_n") > 1,
                            "duplicate contact_id in a partition (first line kept)").drop("_n")
    attrs = (golden.where(F.col("_removed").isNull()).drop("_removed")
             .withColumnRenamed("golden_customer_id", "g_id"))
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

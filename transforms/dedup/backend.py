"""Splink's Spark backend: similarity functions, the database API, settings and linkers."""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pyspark.sql import DataFrame

from transforms.dedup.settings import (
    SIMILARITY_FUNCTIONS,
    UID,
    DedupInputError,
    SimilarityFunctionsMissingError,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from splink.internals.linker import Linker

log = logging.getLogger(__name__)



def splink_jar_path() -> str:
    """Absolute path of the similarity-function jar in the splink wheel for this Spark line.

    Splink's own ``similarity_jar_location()`` (the Spark 3 or Spark 4 jar); pass it to
    ``lakeforge.session.build_session(..., extra_jars=[splink_jar_path()])``.
    """
    from splink.internals.spark.jar_location import similarity_jar_location

    path = Path(similarity_jar_location()).resolve()
    if not path.is_file():
        raise SimilarityFunctionsMissingError(
            f"Splink's similarity jar is missing from the splink wheel at {path}; "
            "reinstall splink (pip install --force-reinstall 'splink>=4.0,<6')"
        )
    return str(path)


def _functions_registered(spark: SparkSession) -> bool:
    return all(spark.catalog.functionExists(name) for name in SIMILARITY_FUNCTIONS)


def ensure_similarity_functions(spark: SparkSession) -> None:
    """Register Splink's similarity functions, adding the wheel's jar if the session lacks it.

    The jar is normally on ``spark.jars`` (see :func:`splink_jar_path`); adding it at run time
    with ``ADD JAR`` also reaches the executors. Raises
    :class:`SimilarityFunctionsMissingError` when the classes still cannot be loaded.
    """
    if _functions_registered(spark):
        return
    from splink.internals.spark.jar_location import get_scala_udfs

    jar = splink_jar_path()
    jars = spark.sparkContext.getConf().get("spark.jars", "")
    try:
        if jar not in jars.split(","):
            log.info("adding Splink's similarity jar %s to the running session", jar)
            spark.sql(f"ADD JAR '{jar}'")
        for name, class_name, return_type in get_scala_udfs():
            spark.udf.registerJavaFunction(name, class_name, return_type)
    except Exception as exc:  # py4j / AnalysisException: the JVM could not load the classes
        raise SimilarityFunctionsMissingError(
            f"cannot load Splink's similarity functions from {jar}: {exc}. Build the session "
            "with lakeforge.session.build_session(env, extra_jars=[splink_jar_path()])"
        ) from exc


def spark_api(spark: SparkSession) -> Any:
    """Splink's Spark backend, writing its intermediate tables as Parquet.

    Splink chains many intermediate tables; keeping them as cached plans makes plan strings
    grow until the driver runs out of memory, so they go to the SparkContext's checkpoint
    folder (``spark.checkpoint.dir`` or ``lakeforge.dedup.checkpointDir``; a temp folder on a
    local master).
    """
    from splink import SparkAPI

    jsc = spark.sparkContext._jsc  # type: ignore[attr-defined]
    if jsc.sc().getCheckpointDir().isEmpty():
        folder = spark.conf.get("lakeforge.dedup.checkpointDir", None)
        if not folder:
            # SparkContext.master is typed Optional[str]; a running context always has one.
            if not cast(str, spark.sparkContext.master).startswith("local"):
                raise DedupInputError(
                    "find_matches needs a checkpoint folder on a cluster: set "
                    "spark.checkpoint.dir (or lakeforge.dedup.checkpointDir) to an s3:// or "
                    "hdfs:// path"
                )
            # A name only: Spark creates the folder (this library creates no files itself).
            folder = os.path.join(tempfile.gettempdir(), f"lakeforge-splink-{uuid.uuid4().hex}")
        log.info("Splink intermediate tables go to checkpoint folder %s", folder)
        spark.sparkContext.setCheckpointDir(folder)
    return SparkAPI(
        spark_session=spark,
        break_lineage_method="parquet",
        register_udfs_automatically=False,
    )


def rule_sql(rule: Any) -> str:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, Mapping) and "blocking_rule" in rule:
        return str(rule["blocking_rule"])
    get = getattr(rule, "get_blocking_rule", None)
    if callable(get):
        return str(get("spark").blocking_rule_sql)
    raise DedupInputError(
        f"blocking rule {rule!r} is neither SQL text nor a Splink blocking rule (block_on(...))"
    )


def splink_settings_dict(
    comparisons: Sequence[Any],
    blocking_rules: Sequence[str],
    max_em_iterations: int,
    retain: Sequence[str] = (),
) -> dict[str, Any]:
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type="dedupe_only",
        comparisons=list(comparisons),
        # Splink annotates this list[BlockingRuleCreator | dict], but it also takes SQL text:
        # SettingsCreator turns each entry into a CustomRule with to_blocking_rule_creator.
        blocking_rules_to_generate_predictions=cast("list[Any]", list(blocking_rules)),
        unique_id_column_name=UID,
        max_iterations=max_em_iterations,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=list(retain),
    )
    return creator.create_settings_dict("spark")


def make_linker(db_api: Any, frame: DataFrame, settings: Mapping[str, Any]) -> Linker:
    from splink import Linker

    table = db_api.register(frame)
    return Linker(table, dict(settings), log_level=None)

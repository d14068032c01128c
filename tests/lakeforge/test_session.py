from __future__ import annotations

from pathlib import Path


def test_session_has_test_settings_and_hive_under_lake(spark, lake_root: Path) -> None:
    conf = spark.conf
    assert conf.get("spark.sql.shuffle.partitions") == "2"
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.sql.adaptive.enabled") == "true"
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.catalogImplementation") == "hive"
    assert spark.sparkContext.master == "local[2]"
    spark.sql("CREATE DATABASE IF NOT EXISTS smoke_db")
    assert "smoke_db" in [d.name for d in spark.catalog.listDatabases()]
    assert (lake_root / "metadata" / "metastore_db").is_dir()
    assert (lake_root / "metadata" / "derby.log").is_file()


def test_splink_similarity_jar_is_on_the_session(spark) -> None:
    import pyspark
    from splink.backends.spark import similarity_jar_location

    from lakeforge.session import splink_jar_path

    jar = splink_jar_path()
    major = pyspark.__version__.split(".")[0]
    # The jar of this Spark line (Scala 2.12 on 3.5, 2.13 on 4), the one Splink registers.
    assert jar is not None and jar.endswith(f"_spark{major}.x.jar")
    assert jar == str(Path(similarity_jar_location()).resolve())
    assert jar in spark.conf.get("spark.jars")
    # The jar's classes load in the driver JVM: its Jaro-Winkler UDF can be registered.
    from pyspark.sql.types import DoubleType

    spark.udf.registerJavaFunction(
        "jaro_winkler_test", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity", DoubleType()
    )
    assert spark.sql("SELECT jaro_winkler_test('martha', 'marhta') AS s").first()["s"] > 0.9

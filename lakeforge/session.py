"""The one place a SparkSession is built, for an environment from conf/envs/*.yaml.

* ``local``: ``local[*]`` (or the env's master), an embedded Hive metastore on Derby whose
  database, warehouse and derby.log live under the lake's metadata zone, UTC everywhere, and
  defaults sized for a small machine.
* ``standalone``: ``spark://host:port``; same embedded metastore as local, on a shared folder.
* an ``s3://`` lake on local / standalone (the ``s3a`` jar set): ``s3://`` and ``s3a://`` map to
  S3A on the env's endpoint, path-style, region and SSE (:func:`lakeforge.aws.s3a_conf`); the
  Derby database lives in ``spark.metastore_dir``; :func:`preflight_storage` checks the
  endpoint and bucket before Spark starts. On EMR and Glue ``s3://`` stays EMRFS / Glue's own.
* ``emr`` / ``glue``: getOrCreate on the cluster's Spark, with the Glue Data Catalog as the Hive
  metastore.

Extra jars come from local files: Splink's similarity jar (inside its wheel), ``spark.jars``, and
the jar sets named in ``spark.jar_sets`` (deequ, delta, s3a, iceberg), which ``make jars`` fetched
into .jars/<spark line>/<set>/ (:mod:`lakeforge.jars`); a set that is not fetched fails before
Spark starts with one line naming ``make jars``. ``spark.jars.packages`` is passed to Spark,
whose Ivy resolves it from Maven Central at startup (it does on this project's machines); on EMR
it goes into the step's spark-submit conf.

Only jobs, the CLI and test fixtures call :func:`build_session`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lakeforge.config import EnvConfig
from lakeforge.errors import ConfigError
from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

GLUE_METASTORE_FACTORY = (
    "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
)

# Defaults for a 2-core laptop or CI machine; every one can be overridden in the env's spark.conf.
SMALL_MACHINE_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}

# Settings that hold on every environment (Athena and SageMaker read these files).
COMMON_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.parquet.nanosAsLong": "false",
}


DERBY_LOG_BUFFER = ("derby.storage.logBufferSize", "1048576")


def metastore_conf(env: EnvConfig, lake: Lake) -> dict[str, str]:
    """Spark conf for the env's metastore: Derby under the lake's metadata zone, or Glue."""
    if env.spark.metastore == "none":
        return {"spark.sql.catalogImplementation": "in-memory"}
    if env.spark.metastore == "glue":
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.hive.metastore.client.factory.class": GLUE_METASTORE_FACTORY,
        }
    meta = derby_home(env, lake)
    meta.mkdir(parents=True, exist_ok=True)
    # Managed tables of an s3:// lake live on S3 (through S3A) like the rest of the lake.
    warehouse = lake.path("metadata", "warehouse") if lake.is_remote else str(meta / "warehouse")
    db = meta / "metastore_db"
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": warehouse,
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={db};create=true",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # derby.log goes next to the database, not into the current directory; a 1 MiB log
        # buffer (Derby's default is 32 KiB) cuts the synchronous log writes of bulk partition
        # registration (lakeforge.catalog.derby_bulk) without relaxing durability.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={meta} -Duser.timezone=UTC "
        f"-D{DERBY_LOG_BUFFER[0]}={DERBY_LOG_BUFFER[1]}" + _log4j_option(),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }


def derby_home(env: EnvConfig, lake: Lake) -> Path:
    """The folder of the embedded Derby metastore: the lake's metadata zone, or for an s3://
    lake (local and standalone sessions) ``spark.metastore_dir``, a local folder."""
    if not lake.is_remote:
        return Path(lake.zone("metadata"))
    if env.kind not in ("local", "standalone") or not env.spark.metastore_dir:
        raise ConfigError(
            f"{env.source}: spark.metastore 'derby' on the s3:// lake {lake.root} needs "
            "spark.metastore_dir (a local folder for the Derby database); on EMR/Glue use "
            "metastore: glue")
    return Path(env.spark.metastore_dir).expanduser().resolve()


def checkpoint_dir(env: EnvConfig, lake: Lake) -> str:
    """Where checkpoints go: the lake's metadata zone, except for an s3:// lake on a local or
    standalone session, where these scratch files (Splink's lineage breaks) stay beside the
    Derby database: through S3A every one would be a round of uploads for nothing."""
    if lake.is_remote and env.kind in ("local", "standalone") and env.spark.metastore_dir:
        return str(Path(env.spark.metastore_dir).expanduser().resolve() / "checkpoints")
    return lake.path("metadata", "checkpoints")


def s3a_session_conf(env: EnvConfig) -> dict[str, str]:
    """``spark.hadoop.fs.s3a.*`` for a local or standalone session that takes the s3a jar set:
    s3://, s3a:// and s3n:// through S3A on the env's endpoint, region and SSE (lakeforge.aws)."""
    from lakeforge.aws import s3a_conf

    if env.kind not in ("local", "standalone") or "s3a" not in env.spark.jar_sets:
        return {}
    return {f"spark.hadoop.{k}": v for k, v in s3a_conf(env.aws).items()}


def preflight_storage(env: EnvConfig, lake: Lake) -> None:
    """Before Spark starts: make ``env.aws`` the process's S3 settings, and for an s3:// lake on
    a local or standalone session check that the endpoint answers and every bucket of the
    lake's zones exists (created when ``aws.create_bucket``). Fails with one line."""
    from lakeforge import aws

    aws.configure(env.aws)
    if env.kind not in ("local", "standalone"):
        return  # EMR / Glue: their own S3 access, checked by the cluster's role
    buckets: dict[str, str] = {}
    for uri in [lake.root, *lake.zones.values()]:  # a bucket is named by its first URI: the root
        if uri.startswith(("s3://", "s3a://", "s3n://")):
            buckets.setdefault(aws.split_s3_uri(uri)[0], uri)
    for uri in buckets.values():
        aws.check_bucket(uri, create=env.aws.create_bucket)


# The Hadoop conf key where apply_s3a_conf records the keys it set (the next call unsets those
# its env does not set).
S3A_APPLIED_KEYS = "lakeforge.s3a.applied.keys"


def apply_s3a_conf(spark: SparkSession, env: EnvConfig) -> None:
    """Set the env's S3A settings on a running session's Hadoop conf (a reused session: tests,
    notebooks), then the env's own ``spark.hadoop.fs.s3a.*`` entries of ``spark.conf`` (they
    win, as in a new session), with the credentials boto3 resolves now (the JVM's environment
    was fixed when it started). The file-system cache is turned off for S3A so that the next
    ``s3://`` path opens a file system with these settings rather than one cached with older
    ones. What an earlier env set and this one does not (an endpoint, path-style access, SSE,
    credentials; set by an earlier call or by Lakeforge when the session started) is unset,
    so it does not stay behind. An env without the s3a jar set leaves the session's S3A
    settings as they are.

    Reads and writes of DataFrames take them at once. The embedded Hive metastore does not: it
    checks table and partition locations with a copy of the conf taken when it started, so
    registering tables on s3:// needs a session started with the settings (``lakeforge run
    JOB --env local_s3``, :func:`build_session` on a fresh JVM)."""
    from lakeforge.aws import s3a_credentials_conf

    conf = {k.removeprefix("spark.hadoop."): v for k, v in s3a_session_conf(env).items()}
    jsc = spark.sparkContext._jsc
    if not conf or jsc is None:
        return
    conf.update(s3a_credentials_conf())
    conf.update({f"fs.{scheme}.impl.disable.cache": "true" for scheme in ("s3", "s3a", "s3n")})
    # the env's own S3A settings win, as they do in a new session (session_conf)
    conf.update({k.removeprefix("spark.hadoop."): v for k, v in env.spark.conf.items()
                 if k.startswith(("spark.hadoop.fs.s3a.", "spark.hadoop.fs.s3."))})
    hadoop = jsc.hadoopConfiguration()
    earlier = set(filter(None, (hadoop.get(S3A_APPLIED_KEYS) or "").split(",")))
    started = {k.removeprefix("spark.hadoop.") for k, _ in spark.sparkContext.getConf().getAll()}
    earlier |= started & _managed_s3a_keys()
    for key in sorted(earlier - set(conf)):  # an earlier env's endpoint, SSE... must go
        hadoop.unset(key)
        # Once S3AFileSystem's class is loaded, Hadoop knows the SSE keys as deprecated names of
        # fs.s3a.encryption.*: unsetting the old name leaves it readable through the new one;
        # unsetting the new name removes both.
        renamed = _S3A_RENAMED.get(key)
        if renamed and renamed not in conf:
            hadoop.unset(renamed)
    for key, value in conf.items():
        hadoop.set(key, value)
    hadoop.set(S3A_APPLIED_KEYS, ",".join(sorted(conf)))


_S3A_RENAMED = {"fs.s3a.server-side-encryption-algorithm": "fs.s3a.encryption.algorithm",
                "fs.s3a.server-side-encryption.key": "fs.s3a.encryption.key"}


def _managed_s3a_keys() -> set[str]:
    """Every Hadoop key Lakeforge's S3A settings can set (:func:`lakeforge.aws.s3a_conf` with
    an endpoint and SSE-KMS, the credentials, the cache switches)."""
    from lakeforge.aws import s3a_conf
    from lakeforge.config import AwsSettings

    most = AwsSettings(endpoint_url="http://endpoint", sse="SSE-KMS", kms_key_id="key")
    return set(s3a_conf(most)) | {
        "fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token",
        "fs.s3a.aws.credentials.provider",
        *(f"fs.{scheme}.impl.disable.cache" for scheme in ("s3", "s3a", "s3n"))}


def _log4j_option() -> str:
    """Point local JVMs at conf/log4j2.properties (quiet Hive/Derby chatter) when it exists."""
    from lakeforge.config import conf_dir

    props = conf_dir() / "log4j2.properties"
    return f" -Dlog4j.configurationFile=file:{props.resolve()}" if props.is_file() else ""


def splink_jar_path() -> str | None:
    """The similarity-function jar Splink itself picks for this pyspark's major version
    (splink 5 ships ``*_spark3.x.jar`` for Scala 2.12 and ``*_spark4.x.jar`` for 2.13, two
    builds of the latter: ``similarity_jar_location()`` names the one Splink registers, the
    same one transforms.dedup adds); None when splink is not installed or the file is absent."""
    import importlib.util

    if importlib.util.find_spec("splink") is None:
        return None
    from splink.backends.spark import similarity_jar_location

    jar = Path(similarity_jar_location())
    return str(jar.resolve()) if jar.is_file() else None


def validate_jars(jars: list[str] | tuple[str, ...], source: str = "spark.jars") -> list[str]:
    """Local jar files only: a URL or a Maven coordinate is refused with a clear message."""
    out = []
    for jar in jars:
        local_or_s3 = jar.startswith(("/", "s3://", "file:"))
        if jar.startswith(("http://", "https://")) or (":" in jar and not local_or_s3):
            raise ConfigError(
                f"{source}: {jar!r} is not a local jar file. Point to a .jar on disk or on S3; "
                "take a pinned jar set with spark.jar_sets, or give Maven coordinates to "
                "spark.jars.packages."
            )
        if not jar.startswith("s3://"):
            path = Path(jar[len("file:"):] if jar.startswith("file:") else jar)
            if not path.is_file():
                raise ConfigError(f"{source}: jar file {path} does not exist")
            jar = str(path.resolve())
        out.append(jar)
    return out


def session_conf(
    env: EnvConfig,
    lake: Lake,
    extra_conf: Mapping[str, str] | None = None,
    extra_jars: list[str] | None = None,
) -> dict[str, str]:
    """The full Spark conf :func:`build_session` sets, computed without starting Spark."""
    conf: dict[str, str] = dict(COMMON_DEFAULTS)
    if env.kind in ("local", "standalone"):
        conf.update(SMALL_MACHINE_DEFAULTS)
        conf["spark.pyspark.python"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    if (lake.is_remote and env.kind in ("local", "standalone")
            and "s3a" not in env.spark.jar_sets):
        raise ConfigError(f"{env.source}: the lake root {lake.root} is on S3; a {env.kind} "
                          "session reads it through S3A: add s3a to spark.jar_sets")
    conf.update(metastore_conf(env, lake))
    conf.update(s3a_session_conf(env))
    if lake.is_remote and "s3a" in env.spark.jar_sets and env.kind in ("local", "standalone"):
        from lakeforge.aws import MAGIC_COMMITTER_SQL_CONF

        conf.update(MAGIC_COMMITTER_SQL_CONF)  # data files on the s3:// lake: no renames
    if env.aws.sse != "none" and env.kind in ("emr", "glue"):
        conf["spark.hadoop.fs.s3.enableServerSideEncryption"] = "true"
        if env.aws.sse == "SSE-KMS":
            if not env.aws.kms_key_id:
                raise ConfigError(f"{env.source}: aws.sse SSE-KMS needs aws.kms_key_id")
            conf["spark.hadoop.fs.s3.serverSideEncryption.kms.keyId"] = env.aws.kms_key_id
    if env.spark.driver_memory:
        conf["spark.driver.memory"] = env.spark.driver_memory
    from lakeforge.formats import table_format_conf

    conf.update(table_format_conf(env, lake))  # delta / iceberg in jar_sets: extensions, catalogs
    conf.update(env.spark.conf)
    conf.update(extra_conf or {})
    if "spark.jars.packages" in conf:
        if env.kind in ("local", "standalone"):
            # Spark's Ivy resolves these from Maven Central when the JVM starts (unpinned,
            # unchecked); the pinned, checksummed route is spark.jar_sets.
            log.info("%s: spark.jars.packages %s is resolved by Spark's Ivy at startup",
                     env.source, conf["spark.jars.packages"])
        else:
            # On a cluster only spark-submit resolves it (EMR step spark_conf, Glue's
            # --extra-jars); lakeforge never needs it, the engines detect their jars.
            log.warning("%s: spark.jars.packages takes effect only when given to spark-submit; "
                        "a running cluster session ignores it", env.source)
    auto: list[str] = []
    if env.kind in ("local", "standalone"):
        if env.spark.jar_sets:
            from lakeforge.jars import set_jars

            for name in env.spark.jar_sets:
                auto.extend(set_jars(name))
        if env.spark.splink_jar:
            found = splink_jar_path()
            auto.extend([found] if found else [])
    jars = validate_jars(
        list(env.spark.jars) + list(extra_jars or []) + auto, f"{env.source}: spark.jars"
    )
    if conf.get("spark.jars"):
        jars = validate_jars(conf["spark.jars"].split(","), "spark.conf spark.jars") + jars
    if jars:
        conf["spark.jars"] = ",".join(dict.fromkeys(jars))
    return conf


def build_session(
    env: EnvConfig,
    app_name: str = "lakeforge",
    *,
    extra_conf: Mapping[str, str] | None = None,
    extra_jars: list[str] | None = None,
    lake: Lake | None = None,
) -> SparkSession:
    """Build (or, on EMR/Glue, get) the SparkSession for ``env``.

    Example::

        spark = build_session(load_env("local"), "csv_to_parquet")
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # Whoever started this session owns it (a test fixture, Glue, a notebook): reuse it
        # unchanged rather than overwrite its settings.
        log.info("reusing the active SparkSession (master %s)", active.sparkContext.master)
        apply_s3a_conf(active, env)
        return active
    lake = lake or Lake.from_env(env)
    if env.kind in ("local", "standalone"):
        # Bind to loopback: a laptop's or CI's hostname may resolve to an unroutable address.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = session_conf(env, lake, extra_conf, extra_jars)
    builder = SparkSession.builder.appName(app_name)
    master = env.spark.master
    if env.kind in ("local", "standalone"):
        if not master:
            master = "local[*]" if env.kind == "local" else None
        if (env.kind == "standalone" and not (master or "").startswith("spark://")
                and "PYSPARK_GATEWAY_PORT" not in os.environ):
            raise ConfigError(
                f"{env.source}: env kind 'standalone' needs spark.master spark://host:port, "
                f"got {master!r}"
            )
    # Under spark-submit, its --master wins over the env file (the JVM is already configured).
    launched_by_submit = "PYSPARK_GATEWAY_PORT" in os.environ
    if master and env.kind not in ("emr", "glue") and not launched_by_submit:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    if conf.get("spark.sql.catalogImplementation") == "hive":
        builder = builder.enableHiveSupport()
    log.info("starting Spark for env %s (%s), master %s", env.name, env.kind,
             "from spark-submit" if launched_by_submit else (master or "cluster"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(env.spark.log_level)
    jsc = spark.sparkContext._jsc
    if jsc is not None and jsc.sc().getCheckpointDir().isEmpty():
        # Checkpoints (Splink's intermediate tables, long lineages) go where every executor can
        # reach them: the lake's metadata zone (a shared folder, or S3 on EMR/Glue).
        spark.sparkContext.setCheckpointDir(checkpoint_dir(env, lake))
    if env.spark.metastore == "derby":
        # Under spark-submit the driver JVM started before our extraJavaOptions; the Hive client
        # is created lazily, so setting the property now still keeps derby.log under the lake.
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        jvm.java.lang.System.setProperty("derby.system.home", str(derby_home(env, lake)))
        jvm.java.lang.System.setProperty(*DERBY_LOG_BUFFER)
    return spark

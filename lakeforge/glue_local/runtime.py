"""What a script's GlueContext works on: the SparkSession, the lake, the catalog, the job's
bookmarks, and where ``s3://`` goes.

Without an S3 endpoint, ``s3://BUCKET/KEY`` (and ``s3a://``, ``s3n://``) is
``<lake root>/s3/BUCKET/KEY``, at the Hadoop level so that Glue's readers and writers and plain
Spark calls in the script (``df.write.parquet("s3://...")``) agree: ``fs.s3.impl`` is Hadoop's
``ViewFileSystemOverloadScheme`` and each bucket gets a mount table whose ``linkFallback`` is
the bucket's folder. Buckets are mapped as they are met: the runner maps those named in the
script and its arguments, Glue's readers and writers map the ones they are given, and
:meth:`GlueRuntime.map_buckets` maps more. A bucket nobody mapped fails in Hadoop naming its
empty mount table. With an S3 endpoint (``aws.endpoint_url``), ``s3://`` is S3A against it.

Example::

    runtime = GlueRuntime.for_lake(spark, "/tmp/lake")
    with runtime.installed():
        glue_context = GlueContext(spark.sparkContext)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeforge.errors import ConfigError
from lakeforge.paths import Lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeforge.bookmarks import JobBookmarks
    from lakeforge.catalog.base import Catalog
    from lakeforge.config import EnvConfig

log = logging.getLogger(__name__)

S3_SCHEMES = ("s3", "s3a", "s3n")
VIEWFS_OVERLOAD = "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme"
S3A_FS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
FILE_COMMITTER = "org.apache.hadoop.mapreduce.lib.output.FileOutputCommitterFactory"
S3_FOLDER = "s3"
# A bucket name as S3 allows it (3-63 of a-z 0-9 . -), in a literal s3:// URI.
S3_URI = re.compile(r"\bs3[an]?://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?=[/'\"\s]|$)")

_CURRENT: list[GlueRuntime] = []


def buckets_in(texts: Iterable[str]) -> set[str]:
    """Bucket names of the ``s3://`` URIs written in ``texts`` (a script, its arguments)."""
    found: set[str] = set()
    for text in texts:
        found.update(S3_URI.findall(text))
    return found


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://`` / ``s3a://`` / ``s3n://`` URI, else None."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in S3_SCHEMES:
        return None
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{uri!r}: an s3 URI needs a bucket (s3://BUCKET/KEY)")
    return bucket, key


@dataclass
class GlueRuntime:
    """The lake, catalog and S3 mapping behind a GlueContext (one per script run or test)."""

    spark: SparkSession
    lake: Lake
    catalog: Catalog
    endpoint_url: str | None = None
    mapped_buckets: set[str] = field(default_factory=set)
    bookmarks: JobBookmarks | None = None
    run_id: str | None = None

    @classmethod
    def for_lake(cls, spark: SparkSession, root: str) -> GlueRuntime:
        """A runtime on a local lake folder with the session's own (spark_sql) catalog."""
        from lakeforge.catalog import get_catalog

        lake = Lake.from_settings(root, allow_env_override=False)
        return cls(spark=spark, lake=lake, catalog=get_catalog("spark_sql", spark))

    @classmethod
    def for_env(cls, spark: SparkSession, env: EnvConfig) -> GlueRuntime:
        """A runtime on an env's lake, catalog backend and S3 endpoint."""
        from lakeforge.catalog import get_catalog

        return cls(spark=spark, lake=Lake.from_env(env), catalog=get_catalog(env, spark),
                   endpoint_url=env.aws.endpoint_url)

    # ------------------------------------------------------------------------- S3 mapping

    def s3_root(self) -> str:
        """The folder that stands for S3: ``<lake root>/s3``."""
        if self.lake.is_remote:
            raise ConfigError(f"lake root {self.lake.root} is remote: s3:// cannot be mapped "
                              "into it; configure aws.endpoint_url to use S3 itself")
        return str(Path(self.lake.root) / S3_FOLDER)

    def local_path(self, uri: str) -> str:
        """Where ``uri`` lives on this machine: an s3 URI's folder under :meth:`s3_root`
        (without an endpoint), a ``file:`` URI's path, or ``uri`` unchanged."""
        parts = split_s3_uri(uri)
        if parts is not None and self.endpoint_url is None:
            bucket, key = parts
            return str(Path(self.s3_root(), bucket, *[p for p in key.split("/") if p]))
        if uri.startswith("file:"):
            return "/" + uri[len("file:"):].lstrip("/")
        return uri

    def map_buckets(self, buckets: Iterable[str]) -> None:
        """Send ``s3://`` of each bucket to its folder under the lake (or, with an endpoint,
        every ``s3://`` to S3A against it)."""
        jsc = self.spark.sparkContext._jsc
        assert jsc is not None
        conf = jsc.hadoopConfiguration()
        if self.endpoint_url is not None:
            self._use_s3a(conf)
            return
        new = sorted(set(buckets) - self.mapped_buckets)
        for scheme in S3_SCHEMES:
            conf.set(f"fs.{scheme}.impl", VIEWFS_OVERLOAD)
            # Each test or run may map a bucket to another lake: no cached file systems.
            conf.set(f"fs.{scheme}.impl.disable.cache", "true")
            # A session with the s3a jar set commits s3:// through S3A's committers, which
            # refuse any other file system: the mapped folders take Hadoop's file committer.
            conf.set(f"mapreduce.outputcommitter.factory.scheme.{scheme}", FILE_COMMITTER)
        for bucket in new:
            folder = Path(self.s3_root(), bucket)
            folder.mkdir(parents=True, exist_ok=True)
            conf.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", folder.resolve().as_uri())
            self.mapped_buckets.add(bucket)
        if new:
            log.info("s3:// buckets %s mapped to %s", new, self.s3_root())

    def map_uri(self, uri: str) -> None:
        """Map the bucket of ``uri`` when it is an s3 URI."""
        parts = split_s3_uri(uri)
        if parts is not None:
            self.map_buckets([parts[0]])

    def _use_s3a(self, conf: Any) -> None:
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None
        try:
            jvm.java.lang.Class.forName(S3A_FS)
        except Exception as exc:
            raise ConfigError(
                f"aws.endpoint_url {self.endpoint_url} needs S3A on the classpath: add "
                "spark.jar_sets: [s3a] to the env and run `make jars`") from exc
        for scheme in S3_SCHEMES:
            conf.set(f"fs.{scheme}.impl", S3A_FS)
        conf.set("fs.s3a.endpoint", self.endpoint_url or "")
        conf.set("fs.s3a.path.style.access", "true")

    # ------------------------------------------------------------------------- lifetime

    @contextmanager
    def installed(self) -> Iterator[GlueRuntime]:
        """Make this the runtime GlueContexts created inside the block use."""
        _CURRENT.append(self)
        try:
            yield self
        finally:
            _CURRENT.remove(self)


def current_runtime(spark: SparkSession) -> GlueRuntime:
    """The installed runtime, or one on the ``local`` env's lake for ``spark`` (a GlueContext
    made in a suite that built its own SparkContext, as AWS's unit-testing sample does)."""
    if _CURRENT:
        return _CURRENT[-1]
    from lakeforge.catalog import get_catalog
    from lakeforge.config import load_env

    env = load_env("local")
    runtime = GlueRuntime(spark=spark, lake=Lake.from_env(env),
                          catalog=get_catalog("spark_sql", spark))
    _CURRENT.append(runtime)
    log.info("GlueContext on the local env's lake %s (no runtime installed)", runtime.lake.root)
    return runtime


def local_session() -> SparkSession:
    """The active SparkSession, or one built for the ``local`` env (pytest plugin, runner)."""
    from pyspark.sql import SparkSession

    from lakeforge.config import load_env
    from lakeforge.session import build_session

    active = SparkSession.getActiveSession()
    return active if active is not None else build_session(load_env("local"), "glue-local")

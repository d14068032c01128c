"""Pick a catalog backend from an environment or a backend name.

Example::

    catalog = get_catalog(env, spark)                 # env.catalog.backend decides
    catalog = get_catalog("glue", endpoint_url="http://127.0.0.1:5000")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeforge.catalog.base import Catalog
from lakeforge.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeforge.config import EnvConfig

_ALIASES = {"spark_sql": "spark_sql", "spark": "spark_sql", "glue_api": "glue_api",
            "glue": "glue_api"}


def get_catalog(
    env_or_backend: EnvConfig | str,
    spark: SparkSession | None = None,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    glue_client: Any | None = None,
) -> Catalog:
    """The catalog for an :class:`~lakeforge.config.EnvConfig` (its ``catalog.backend``,
    ``catalog.region``/``aws.region`` and endpoint) or for a backend name: ``spark_sql``
    (alias ``spark``, needs ``spark``) or ``glue_api`` (alias ``glue``)."""
    if isinstance(env_or_backend, str):
        name = env_or_backend
        source = "backend name"
    else:
        env = env_or_backend
        name = env.catalog.backend
        source = f"{env.source or env.name}: catalog.backend"
        region = region or env.catalog.region or env.aws.region
        endpoint_url = endpoint_url or env.catalog.endpoint_url or env.aws.endpoint_url
    backend = _ALIASES.get(name)
    if backend is None:
        raise ConfigError(f"{source} {name!r} is not a catalog backend; "
                          f"use one of {sorted(_ALIASES)}")
    if backend == "spark_sql":
        if spark is None:
            raise ConfigError("the spark_sql catalog needs a SparkSession: "
                              "get_catalog('spark_sql', spark)")
        from lakeforge.catalog.spark_sql import SparkSqlCatalog

        return SparkSqlCatalog(spark)
    from lakeforge.catalog.glue_api import GlueApiCatalog

    return GlueApiCatalog(glue_client, region=region, endpoint_url=endpoint_url)

"""Pure DataFrame transforms: DataFrame in, DataFrame (or a dict of them, or metrics) out.

- :mod:`transforms.glue` - AWS Glue's transforms (ApplyMapping, ResolveChoice, Relationalize, ...)
  as functions and Glue-named wrapper classes;
- :mod:`transforms.registry` - the Glue transforms looked up by name, for steps listed in YAML;
- :mod:`transforms.dedup` - FindMatches-like deduplication on Splink, configured by MatchSettings;
- :mod:`transforms.features` - feature pipelines (pyspark.ml) from a spec, SageMaker-ready frames.

They import pyspark and lakeforge.errors only, write no files and create no sessions; storing
models, feature versions and samples is :mod:`lakeforge.model_store`,
:mod:`lakeforge.feature_store` and :mod:`lakeforge.spigot`.
"""

"""Convert a raw CSV folder to typed, partitioned Parquet in the curated zone, for Athena.

No business step: the lifecycle reads the files line by line (each file's own header), types
every value by the declared mappings, quarantines bad lines with file, line and reason, fails
(exit 1) when the share of bad rows passes ``run.max_bad_row_fraction``, and publishes the
rest with ``publish_partitioned`` (a new version, one catalog switch). The source, the output
table, its partition keys and mode come from conf/jobs/csv_to_parquet.yaml.

Runs as ``lakeforge run csv_to_parquet``, ``python -m jobs.csv_to_parquet`` or
``spark-submit jobs/csv_to_parquet.py``, with ``--env``, ``--config`` and ``--KEY value``
overrides (``--outputs.sales.table sales_v2``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeforge.errors import ConfigError
from lakeforge.lifecycle import Job, PipelineConfig, Steps, run_pipeline

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True, kw_only=True)
class CsvToParquetConfig(PipelineConfig):

    def validate(self, source: str) -> None:
        if set(self.outputs) != set(self.sources):
            raise ConfigError(f"{source}: 'outputs' {sorted(self.outputs)} must name the same "
                              f"frames as 'sources' {sorted(self.sources)}: each source is "
                              "published as one table")
        for name, out in self.outputs.items():
            columns = {m[2] for m in self.sources[name].mappings}
            missing = [k for k in out.partition_by if k not in columns]
            if missing:
                raise ConfigError(f"{source}: 'outputs.{name}.partition_by' names {missing}, "
                                  f"not among the mapped columns {sorted(columns)}")


def build(steps: Steps) -> dict[str, DataFrame]:
    """Each typed source is its output."""
    return dict(steps.sources)


JOB = Job("csv_to_parquet", CsvToParquetConfig, build)


def main(argv: list[str] | None = None) -> int:
    return run_pipeline(JOB, argv)


if __name__ == "__main__":
    sys.exit(main())

"""PyDeequ's ``pydeequ.repository`` names on the lake's storage (quality/ itself writes no files).

PyDeequ code keeps working with only the import changed::

    from lakeforge.quality_repository import *      # was: from pydeequ.repository import *

    metrics_file = FileSystemMetricsRepository.helper_metrics_file(spark, "metrics.json")
    repository = FileSystemMetricsRepository(spark, metrics_file)   # local path or s3://
    key = ResultKey(spark, ResultKey.current_milli_time(), {"tag": "hello"})

The file is Deequ's JSON format (``AnalysisResultSerde``): Deequ's own
FileSystemMetricsRepository reads what this one writes and the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeforge.quality_gate import LakeMetricsStorage
from quality import repository as _repository
from quality.repository import InMemoryMetricsRepository, MetricsStorage, ResultKey

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class FileSystemMetricsRepository(_repository.FileSystemMetricsRepository):
    """:class:`quality.repository.FileSystemMetricsRepository` whose file lives on the lake's
    storage (:class:`~lakeforge.quality_gate.LakeMetricsStorage`: a local path or s3://)
    unless ``storage`` says otherwise."""

    def __init__(self, spark_session: SparkSession | None = None, path: str | None = None,
                 *, storage: MetricsStorage | None = None) -> None:
        super().__init__(spark_session, path, storage=storage or LakeMetricsStorage())


__all__ = ["FileSystemMetricsRepository", "InMemoryMetricsRepository", "ResultKey"]

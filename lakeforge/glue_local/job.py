"""``awsglue.job.Job``: init / commit with Lakeforge's bookmarks keyed by transformation_ctx.

``Job.init(name, args)`` opens the job's bookmark (:class:`lakeforge.bookmarks.JobBookmarks`,
in the lake's bookmarks zone) with ``args["job_bookmark_option"]`` (getResolvedOptions'
default: ``job-bookmark-disable``, as Glue) and the ``job_bookmark_from`` / ``_to`` range.
Readers given a ``transformation_ctx`` then read only files the bookmark has not recorded;
``Job.commit()`` records them. A run that fails before ``commit`` leaves the bookmark as it was.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from lakeforge.glue_local import options as glue_options

log = logging.getLogger(__name__)


class Job:
    """Glue's Job: ``job = Job(glue_context); job.init(args["JOB_NAME"], args); job.commit()``."""

    @classmethod
    def continuation_options(cls) -> list[str]:
        return list(glue_options.CONTINUATION_OPTIONS)

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return list(glue_options.BOOKMARK_OPTIONS)

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return list(glue_options.BOOKMARK_RANGE_OPTIONS)

    @classmethod
    def id_params(cls) -> list[str]:
        return list(glue_options.ID_PARAMS)

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return list(glue_options.ENCRYPTION_TYPE_OPTIONS)

    @classmethod
    def data_lineage_options(cls) -> list[str]:
        return list(glue_options.DATA_LINEAGE_OPTIONS)

    def __init__(self, glue_context_or_spark_session: Any) -> None:
        """As awsglue: a GlueContext, or a SparkSession (a job that reads with plain Spark
        still gets ``init`` / ``commit``); anything else is refused."""
        from pyspark.sql import SparkSession

        from lakeforge.glue_local.runtime import current_runtime

        given = glue_context_or_spark_session
        if isinstance(given, SparkSession):
            self._runtime = current_runtime(given)
        elif hasattr(given, "_runtime"):
            self._runtime = given._runtime
        else:
            raise TypeError(f"Job: cannot init a Job given a {type(given).__name__}; pass "
                            "the GlueContext (or a SparkSession)")
        self._glue_context = given
        self._name: str | None = None
        self._initialized = False

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        from lakeforge.bookmarks import JobBookmarks
        from lakeforge.state import store_for

        if not job_name:
            raise ValueError("Job.init: job_name is empty (pass --JOB_NAME name)")
        args = dict(args or {})
        runtime = self._runtime
        option = args.get("job_bookmark_option") or glue_options.BOOKMARK_OPTIONS[3]
        store = store_for(runtime.lake.zone("bookmarks"))
        runtime.bookmarks = JobBookmarks(store, job_name, option=option,
                                         from_run=args.get("job_bookmark_from"),
                                         to_run=args.get("job_bookmark_to"))
        runtime.run_id = args.get("JOB_RUN_ID") or (
            f"jr_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(4)}")
        self._name = job_name
        self._initialized = True
        log.info("job %s run %s (bookmark %s)", job_name, runtime.run_id, option)

    def isInitialized(self) -> bool:  # noqa: N802
        return self._initialized

    def commit(self) -> bool:
        """Advance the bookmark with the files this run read (enabled bookmarks only)."""
        if not self._initialized:
            raise RuntimeError("Job.commit before Job.init: call job.init(args['JOB_NAME'], "
                               "args) first")
        runtime = self._runtime
        marks = runtime.bookmarks
        advanced = (bool(marks.commit(str(runtime.run_id))) if marks is not None
                    else False)  # init set run_id
        runtime.bookmarks = None
        self._initialized = False
        return advanced

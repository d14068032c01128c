"""awsglue.job on Lakeforge (lakeforge.glue_local.job)."""

from lakeforge.glue_local.job import Job

__all__ = ["Job"]

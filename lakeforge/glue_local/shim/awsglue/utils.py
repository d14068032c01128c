"""awsglue.utils on Lakeforge (lakeforge.glue_local.options)."""

from lakeforge.glue_local.errors import GlueArgumentError
from lakeforge.glue_local.options import getResolvedOptions

__all__ = ["GlueArgumentError", "getResolvedOptions"]

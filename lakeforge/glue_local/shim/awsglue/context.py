"""awsglue.context on Lakeforge (lakeforge.glue_local.context)."""

from lakeforge.glue_local.context import DataSink, DataSource, GlueContext, GlueLogger

__all__ = ["DataSink", "DataSource", "GlueContext", "GlueLogger"]

"""Lakeforge's awsglue-compatible runtime (lakeforge.glue_local), on sys.path only where the
real awsglue is not importable."""

from awsglue.dynamicframe import DynamicFrame

__all__ = ["DynamicFrame"]

"""Lakeforge's awsgluedq-compatible package (lakeforge.glue_local.dq)."""

"""Catalog interface and its backends (spark_sql, glue_api)."""

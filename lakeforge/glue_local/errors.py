"""Errors of the awsglue-compatible runtime."""

from __future__ import annotations

from lakeforge.errors import LakeforgeError


class GlueApiNotImplementedError(LakeforgeError, NotImplementedError):
    """A Glue API Lakeforge's local runtime does not implement: the message names the API and
    what to do instead. Raised instead of returning a result that differs from Glue's."""

    def __init__(self, api: str, instead: str) -> None:
        self.api = api
        super().__init__(f"{api} is not implemented by Lakeforge's local Glue runtime; {instead}")


class GlueArgumentError(LakeforgeError, ValueError):
    """A job argument is missing or malformed (awsglue.utils.GlueArgumentError)."""

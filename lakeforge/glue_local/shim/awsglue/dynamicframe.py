"""awsglue.dynamicframe on Lakeforge (lakeforge.glue_local.frames)."""

from lakeforge.glue_local.frames import (
    DynamicFrame,
    DynamicFrameCollection,
    DynamicFrameReader,
    DynamicFrameWriter,
    DynamicRecord,
)


class ResolveOption:
    """An option of DynamicFrame.toDF: (path, action[, target type])."""

    def __init__(self, path, action, target=None):
        self.path = path
        self.action = action
        self.target = target


__all__ = ["DynamicFrame", "DynamicFrameCollection", "DynamicFrameReader",
           "DynamicFrameWriter", "DynamicRecord", "ResolveOption"]

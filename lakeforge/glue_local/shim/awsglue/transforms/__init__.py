"""awsglue.transforms on Lakeforge: Glue's transform classes (lakeforge.glue_local.transforms)."""

from lakeforge.glue_local.transforms import *  # noqa: F403
from lakeforge.glue_local.transforms import __all__  # noqa: F401

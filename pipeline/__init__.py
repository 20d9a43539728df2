"""medtx: the SageMaker pipeline definition, its CLI and local tools.

Importing this package creates no AWS client; ``get_pipeline`` imports the SDK when called.
"""

from __future__ import annotations

from typing import Any


def get_pipeline(*args: Any, **kwargs: Any):
    """See ``pipeline.definition.get_pipeline``."""
    from pipeline.definition import get_pipeline as build

    return build(*args, **kwargs)

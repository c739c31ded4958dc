"""zoo: Keras 3 attention layers and models, with recipes that train, evaluate and export.

Example:

>>> import zoo
>>> layer = zoo.layers.AdditiveAttention(units=16)
"""

from zoo import _quiet  # noqa: F401  (must run before TensorFlow loads)
from zoo import layers  # noqa: E402
from zoo.errors import UsageError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["layers", "UsageError", "__version__"]

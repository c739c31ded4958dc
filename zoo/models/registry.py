"""A name -> builder registry of models and their size presets.

Every model file registers its presets with `register`; recipes and users build them by
name with `zoo.models.build`.

Example:

>>> import zoo.models
>>> zoo.models.names("classifier")
['conv_attention_classifier', 'lstm_attention_classifier', 'transformer_classifier']
>>> zoo.models.get("transformer_tiny").family
'seq2seq'
>>> model = zoo.models.build("transformer_tiny", source_vocab_size=100,
...                          target_vocab_size=100)
"""

import dataclasses
from typing import Any, Callable

from zoo.errors import UsageError

_REGISTRY: dict = {}


@dataclasses.dataclass(frozen=True)
class Preset:
    """A registered model: its builder, default hyper-parameters and task family.

    Args:
        name: the registry name, e.g. `"transformer_small"`.
        builder: a callable (usually the model class) taking keyword arguments.
        defaults: hyper-parameters of the preset; `build` kwargs override them.
        family: `"seq2seq"`, `"classifier"` or `"span_qa"`; tells recipes which
            required arguments (vocabulary sizes, number of classes) to pass.
        description: one line saying what the preset is.
    """

    name: str
    builder: Callable[..., Any]
    defaults: dict
    family: str
    description: str = ""


_FAMILIES = ("seq2seq", "classifier", "span_qa")


def register(name, builder, family, description="", **defaults):
    """Registers `builder` under `name` with preset hyper-parameters `defaults`."""
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    _REGISTRY[name] = Preset(name, builder, dict(defaults), family, description)
    return builder


def names(family=None):
    """Returns the sorted registry names, optionally only those of one `family`."""
    return sorted(n for n, p in _REGISTRY.items() if family in (None, p.family))


def get(name):
    """Returns the `Preset` registered as `name`; a `UsageError` lists the valid names."""
    if name not in _REGISTRY:
        raise UsageError(
            f"Unknown model {name!r}. Valid names: {', '.join(names())}."
        )
    return _REGISTRY[name]


def build(name, **kwargs):
    """Builds the model registered as `name`; `kwargs` override its preset."""
    preset = get(name)
    config = {**preset.defaults, **kwargs}
    return preset.builder(**config)

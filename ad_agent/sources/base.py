"""The source-learner contract: what collection asks of a learner, and the registry of learners.

A source is a dataclass config with one method, :meth:`Source.record`. Its fields must be JSON-able:
they go into every run file's metadata, and a dataset folder only resumes runs made by the same
config. :func:`register_source` makes a config known by its class name, so collection can read back
what a run file says made it. Registering is one decorator, in any module, inside the package or not.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from ad_agent.histories import Streams

#: One run's recording: every actor's stream, and the extra per-step datasets the source can see
#: (:data:`ad_agent.histories.EXTRA_FIELDS`; empty for sources that see none).
Recorded = tuple[Streams, dict[str, np.ndarray]]


@runtime_checkable
class Source(Protocol):
    """A learner that produces learning histories, one run per (task, seed); a dataclass."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def record(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
        """Run the learner on the task ``env_kwargs`` fixes (``gym.make(env_id, **env_kwargs)``),
        seeded by ``seed``, and return what every actor saw, did and earned, in order."""
        ...


SOURCES: dict[str, type] = {}
S = TypeVar("S", bound=type)


def register_source(cls: S) -> S:
    """Class decorator: ``cls`` (a dataclass with a ``record`` method) becomes a source collection knows."""
    if not dataclasses.is_dataclass(cls) or not callable(getattr(cls, "record", None)):
        raise TypeError(f"a source must be a dataclass with a record(env_id, env_kwargs, seed) method: {cls!r}")
    known = SOURCES.get(cls.__name__)
    if known is not None and known is not cls and known.__module__ != cls.__module__:
        raise ValueError(f"a source named {cls.__name__} is already registered ({known.__module__})")
    SOURCES[cls.__name__] = cls
    return cls

"""How actions become the integer classes the model reads and predicts, for any action space.

A ``Discrete(n)`` action is already a class in ``[0, n)``. A continuous ``Box`` action of ``d``
dimensions is cut, dimension by dimension, into ``bins`` evenly spaced values from ``low`` to
``high`` (both included), so it becomes ``d`` classes: the model reads each dimension's bin, and
its action head (:mod:`ad_agent.model.heads`) predicts a distribution over them, a categorical by
default. The price is resolution: ``(high - low) / (bins - 1)`` per dimension.

Each component also has a null class, ``classes``: "no action yet" before a stream's first step,
and what input masking shows the model instead of an action.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ActionCoding:
    """``classes`` per action component: a Discrete space's size (``low``/``high`` empty, one
    component), or the bins each of a Box space's ``len(low)`` dimensions is cut into."""

    classes: int
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.classes < 1 or len(self.low) != len(self.high):
            raise ValueError(f"need classes >= 1 and as many low as high bounds, got {self}")
        spans = np.subtract(self.high, self.low)
        if self.continuous and (self.classes < 2 or not (spans > 0).all() or not np.isfinite(spans).all()):
            raise ValueError(f"a Box action needs >= 2 bins and finite low < high in every dimension, got {self}")

    @property
    def continuous(self) -> bool:
        return bool(self.low)

    @property
    def components(self) -> int:
        """Classes predicted per step: 1 for a Discrete action, one per dimension of a Box one."""
        return len(self.low) or 1

    @property
    def null(self) -> int:
        """The class that stands for "no action" in every component."""
        return self.classes

    @property
    def shape(self) -> tuple[int, ...]:
        """One step's classes: ``()`` for a Discrete action, ``(d,)`` for a Box one."""
        return (len(self.low),) if self.continuous else ()

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the env received them ``(..., *action_shape)`` -> int64 classes ``(..., *self.shape)``:
        a Box action's dimensions clipped to their bounds and rounded to the nearest bin."""
        actions = np.asarray(actions)
        if not self.continuous:
            if actions.dtype.kind == "f":
                raise ValueError("these actions are continuous (floats), but the action coding is for a Discrete space")
            return actions.astype(np.int64)
        low, high = np.asarray(self.low), np.asarray(self.high)
        if actions.shape[-1:] != (len(self.low),):
            raise ValueError(f"Box actions must end in {len(self.low)} dimensions, got shape {actions.shape}")
        if not np.isfinite(actions).all():
            raise ValueError("Box actions must be finite numbers (a NaN or inf has no bin)")
        fraction = (np.clip(actions, low, high) - low) / (high - low)
        return np.rint(fraction * (self.classes - 1)).astype(np.int64)

    def decode(self, classes: np.ndarray) -> np.ndarray:
        """Classes -> actions for the env: a Discrete action as int64, a Box one as float32 bin values."""
        classes = np.asarray(classes, dtype=np.int64)
        if not self.continuous:
            return classes
        low, high = np.asarray(self.low), np.asarray(self.high)
        return (low + classes * (high - low) / (self.classes - 1)).astype(np.float32)


def action_coding(n_actions: int | ActionCoding) -> ActionCoding:
    """An :class:`ActionCoding` as given, or a Discrete space's from its size."""
    return n_actions if isinstance(n_actions, ActionCoding) else ActionCoding(int(n_actions))

"""Learners that produce learning histories: SB3 algorithms (one run at a time, or many batched), UCB,
a noisy scripted expert, a tabular searcher of the Dark rooms, and any learner of your own.

Each is a config dataclass with a ``record`` method (the :class:`~ad_agent.sources.base.Source`
contract), made known to collection by :func:`~ad_agent.sources.base.register_source`;
:func:`record` runs any of them, so collection does not care which it is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ad_agent.sources.base import SOURCES, Recorded, Source, register_source
from ad_agent.sources.batched import BatchedSourceConfig
from ad_agent.sources.grid_search import ENVS as GRID_SEARCH_ENVS
from ad_agent.sources.grid_search import GridSearchConfig, run_grid_search
from ad_agent.sources.noisy_expert import EXPERTS, NoisyExpertConfig, run_noisy_expert
from ad_agent.sources.sb3 import ALGORITHMS, HistoryRecorder, SourceConfig, run_source
from ad_agent.sources.ucb import UCBConfig, run_ucb

#: Any registered source's config (the built-in ones and yours).
AnySourceConfig = Source

#: The built-in sources that are not SB3 learners, by the name ``ad-agent collect --source`` takes:
#: each one's config (made at its defaults) and the env ids it can play.
SCRIPTED_SOURCES: dict[str, tuple[Callable[[], Source], Collection[str]]] = {
    "noisy-expert": (NoisyExpertConfig, tuple(EXPERTS)),
    "grid-search": (GridSearchConfig, GRID_SEARCH_ENVS),
}

__all__ = [
    "ALGORITHMS",
    "AnySourceConfig",
    "BatchedSourceConfig",
    "GridSearchConfig",
    "HistoryRecorder",
    "NoisyExpertConfig",
    "SCRIPTED_SOURCES",
    "SOURCES",
    "Source",
    "SourceConfig",
    "UCBConfig",
    "record",
    "register_source",
    "run_grid_search",
    "run_noisy_expert",
    "run_source",
    "run_ucb",
]


def record(source: Source, env_id: str, env_kwargs: dict[str, Any], seed: int) -> Recorded:
    """One run of ``source`` on the task ``env_kwargs`` fixes: every actor's stream, and the extra
    datasets of :data:`ad_agent.histories.EXTRA_FIELDS` the source can see."""
    if SOURCES.get(type(source).__name__) is not type(source):
        raise TypeError(f"not a registered source (see ad_agent.sources.register_source): {source!r}")
    return source.record(env_id, env_kwargs, seed)

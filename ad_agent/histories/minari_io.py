"""Export learning histories to Minari (Farama's offline-RL dataset format) and import them back.

Why: other offline-RL code reads Minari; and a Minari dataset of learning histories can be
distilled here. Requires ``minari>=0.5`` (checked with 0.5.4 and Gymnasium 1.x), imported lazily so
the rest of the package works without it.

Mapping. Minari stores single episodes, each with ``T + 1`` observations for ``T`` steps, while
a history stream is many episodes end to end without the observation that follows an episode's
last action. So every episode of every actor of every run becomes one Minari episode, in run,
actor, episode order, and:

- the missing final observation is filled with a copy of the episode's last one (dropped again
  on import; dataset metadata ``ad_agent["final_observation"] == "repeated"`` says so);
- ``terminations`` are all false and ``truncations`` true at each episode's last step, since a
  history does not record why an episode ended;
- each episode's metadata holds ``ad_agent_run``, ``ad_agent_actor``, ``ad_agent_episode`` (its
  place in the history) and ``ad_agent_opens`` (whether the stream row opened an episode: only a
  stream's first partial episode does not);
- dataset metadata ``ad_agent["runs"]`` holds every run's own metadata, in order.

Images are stored raw (``jpeg_encoding=False``): Minari's default JPEG encoding is lossy.

A Minari dataset made elsewhere imports as one run of one actor, its episodes in id order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ad_agent.histories import Streams, iter_runs

Run = tuple[Streams, dict[str, Any]]


def _minari() -> Any:
    try:
        import minari
    except ImportError as err:
        raise ImportError("Minari export/import needs `pip install 'minari>=0.5'`") from err
    return minari


def _observation_space(observations: np.ndarray) -> gym.spaces.Box:
    """A Box as wide as the observations' dtype allows (images: 0..255), shaped like one step."""
    shape, dtype = observations.shape[2:], observations.dtype
    low: float  # an int for integer dtypes: a float would round int64's bounds
    high: float
    if np.issubdtype(dtype, np.integer):
        low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    else:
        low, high = -np.inf, np.inf
    return gym.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)


def _episodes(streams: Streams, run: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(EpisodeBuffer fields, episode metadata) of each episode of each actor of one run."""
    for actor in range(streams.n_actors):
        starts = streams.episode_starts[actor]
        bounds = np.concatenate([[0], np.flatnonzero(starts), [len(starts)]])
        bounds = np.unique(bounds)
        for episode, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            obs = streams.observations[actor, lo:hi]
            truncations = np.zeros(hi - lo, dtype=bool)
            truncations[-1] = True
            fields = {
                "observations": np.concatenate([obs, obs[-1:]]),
                "actions": streams.actions[actor, lo:hi],
                "rewards": streams.rewards[actor, lo:hi],
                "terminations": np.zeros(hi - lo, dtype=bool),
                "truncations": truncations,
            }
            meta = {
                "ad_agent_run": run,
                "ad_agent_actor": actor,
                "ad_agent_episode": episode,
                "ad_agent_opens": bool(starts[lo]),
            }
            yield fields, meta


def _action_space(n_actions: int | gym.spaces.Box, streams: Streams) -> gym.Space:
    """``Discrete(n_actions)``, or the given Box: the one that matches the kind of the recorded actions."""
    if isinstance(n_actions, gym.spaces.Box) != streams.continuous:
        kind = "continuous: pass the env's Box action space" if streams.continuous else "discrete: pass n_actions"
        raise ValueError(f"the histories' actions are {kind}, not {n_actions}")
    return n_actions if isinstance(n_actions, gym.spaces.Box) else gym.spaces.Discrete(n_actions)


def export_minari(
    runs: str | Path | Iterable[Run],
    dataset_id: str,
    n_actions: int | gym.spaces.Box,
    observation_space: gym.Space | None = None,
    **minari_kwargs: Any,
) -> Any:
    """Write a history dataset (folder or ``(Streams, metadata)`` pairs) as Minari ``dataset_id``.

    Runs are written one at a time, so the histories never all sit in memory. The action space is
    ``Discrete(n_actions)``, or pass a continuous env's ``Box`` itself; ``observation_space``
    defaults to a dtype-wide Box (see module doc). A corrupted run file stops the export (an export
    should not silently drop data). Extra keyword arguments (``algorithm_name``, ``author``,
    ``description``, ...) go to ``minari.create_dataset_from_buffers``. Returns the ``MinariDataset``.
    """
    minari = _minari()
    from minari.data_collector import EpisodeBuffer

    source = iter_runs(runs, strict=True) if isinstance(runs, (str, Path)) else iter(runs)
    run_metadata, dataset = [], None
    for index, (streams, meta) in enumerate(source):
        if dataset is None:
            dataset = minari.create_dataset_from_buffers(
                dataset_id,
                [],
                observation_space=observation_space or _observation_space(streams.observations),
                action_space=_action_space(n_actions, streams),
                jpeg_encoding=False,
                **minari_kwargs,
            )
        episodes = list(_episodes(streams, index))
        first = dataset.storage.total_episodes
        dataset.storage.update_episodes([EpisodeBuffer(**fields) for fields, _ in episodes])
        dataset.storage.update_episode_metadata([meta for _, meta in episodes], range(first, first + len(episodes)))
        run_metadata.append(meta)
    if dataset is None:
        raise ValueError(f"no runs to export to {dataset_id}")
    dataset.storage.update_metadata({"ad_agent": {"final_observation": "repeated", "runs": run_metadata}})
    return minari.load_dataset(dataset_id)


def import_minari(dataset_id: str) -> Iterator[Run]:
    """The runs of a local Minari dataset as ``(Streams, metadata)``, one run in memory at a time.

    Histories exported by :func:`export_minari` come back exactly as they went in (observations,
    actions, rewards, episode starts and run metadata); write them with
    :func:`ad_agent.histories.write_run` to train on them.
    """
    dataset = _minari().load_dataset(dataset_id)
    info = dataset.storage.metadata.get("ad_agent", {})
    places = _places(dataset)
    for run in sorted(places):
        actors = [places[run][actor] for actor in sorted(places[run])]
        streams = _stack([_stream(dataset, sorted(episodes)) for episodes in actors])
        runs_meta = info.get("runs")
        yield streams, runs_meta[run] if runs_meta else {"minari_dataset_id": dataset_id}


def _places(dataset: Any) -> dict[int, dict[int, list[tuple[int, bool, int]]]]:
    """run -> actor -> [(episode, opens, minari id)]; foreign datasets are run 0, actor 0."""
    places: dict[int, dict[int, list[tuple[int, bool, int]]]] = defaultdict(lambda: defaultdict(list))
    ids = dataset.episode_indices
    for minari_id, meta in zip(ids, dataset.storage.get_episode_metadata(ids), strict=True):
        run, actor = int(meta.get("ad_agent_run", 0)), int(meta.get("ad_agent_actor", 0))
        episode = int(meta.get("ad_agent_episode", minari_id))
        places[run][actor].append((episode, bool(meta.get("ad_agent_opens", True)), int(minari_id)))
    return places


def _stream(dataset: Any, episodes: list[tuple[int, bool, int]]) -> dict[str, np.ndarray]:
    """One actor's stream from its Minari episodes, in history order, less each final observation."""
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    data = dataset.iterate_episodes([minari_id for _, _, minari_id in episodes])
    for (_, opens, _), episode in zip(episodes, data, strict=True):
        steps = len(episode.rewards)
        parts["observations"].append(episode.observations[:steps])
        parts["actions"].append(np.asarray(episode.actions))
        parts["rewards"].append(np.asarray(episode.rewards))
        parts["episode_starts"].append(np.arange(steps) == 0 if opens else np.zeros(steps, dtype=bool))
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}


def _stack(actors: list[dict[str, np.ndarray]]) -> Streams:
    lengths = {len(actor["actions"]) for actor in actors}
    if len(lengths) != 1:
        raise ValueError(f"the actors of a run have different lengths {sorted(lengths)}")
    return Streams(**{name: np.stack([actor[name] for actor in actors]) for name in actors[0]})

"""Synthetic learning histories shared by the training tests."""

from pathlib import Path

import numpy as np

from ad_agent.histories import Streams, write_run


def write_learnable_histories(folder: Path) -> Path:
    """A 'learner' that always takes action (x + y) % 5: learnable from the observation alone."""
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 9, size=(4, 60, 2))
    streams = Streams(
        observations=obs,
        actions=obs.sum(-1) % 5,
        rewards=np.zeros((4, 60), np.float32),
        episode_starts=np.broadcast_to(np.arange(60) % 20 == 0, (4, 60)).copy(),
    )
    return write_run(folder / "run.h5", streams, {"env_id": "DarkRoom-v0"})

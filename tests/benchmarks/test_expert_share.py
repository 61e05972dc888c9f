"""ED's data check: the share of optimal that the last episodes of every stream earn."""

import numpy as np
import pytest

from ad_agent.histories import Streams, write_run
from ad_agent.presets import get_preset
from benchmarks.main_results import expert_share


def test_expert_share_averages_each_streams_last_episodes(tmp_path) -> None:
    preset = get_preset("DarkRoom-v0")
    goal = (0, 0)  # 8 steps from the centre: on it from the 8th of 20 steps, 13 rewarded steps
    optimal = preset.optimal_return(goal)
    starts = np.broadcast_to(np.arange(60) % 20 == 0, (2, 60)).copy()  # 3 episodes of 20 steps per actor
    rewards = np.zeros((2, 60), np.float32)
    rewards[0, 47:60] = 1  # actor 0 ends optimal, actor 1 never finds the goal
    rewards[1, 0:5] = 1  # a first episode that the last 2 do not include
    streams = Streams(np.zeros((2, 60, 1)), np.zeros((2, 60), np.int64), rewards, starts)
    write_run(tmp_path / "run.h5", streams, {"env_id": "DarkRoom-v0", "task": {"task": list(goal)}})
    assert optimal == 13
    assert expert_share(tmp_path, preset, n_last=2) == pytest.approx((0 + 13 + 0 + 0) / 4 / optimal)
    assert expert_share(tmp_path, preset, n_last=3) == pytest.approx((0 + 0 + 13 + 5 + 0 + 0) / 6 / optimal)

"""Task environments for in-context RL; importing this package registers their Gymnasium ids.

The pixel maze's classes load on first use (``gym.make`` or ``envs.PixelWatermazeEnv``): they need
minigrid and pygame, which nothing else here does.
"""

from typing import Any

from gymnasium.envs.registration import register, registry

from envs.bandit import AdversarialBanditEnv, AdversarialBanditVectorEnv
from envs.core import TaskEnv
from envs.darkkeytodoor import DarkKeyToDoorEnv, DarkKeyToDoorVectorEnv
from envs.darkroom import (
    TEST_GOALS,
    TRAIN_GOALS,
    DarkRoomEnv,
    DarkRoomHardEnv,
    DarkRoomHardVectorEnv,
    DarkRoomVectorEnv,
    optimal_return,
)
from envs.dm import as_dm_env
from envs.pointrobot import PointRobotEnv, PointRobotVectorEnv

__all__ = [
    "AdversarialBanditEnv",
    "AdversarialBanditVectorEnv",
    "DarkKeyToDoorEnv",
    "DarkKeyToDoorVectorEnv",
    "DarkRoomEnv",
    "DarkRoomHardEnv",
    "DarkRoomHardVectorEnv",
    "DarkRoomVectorEnv",
    "ENV_IDS",
    "PixelWatermazeEnv",
    "PixelWatermazeVectorEnv",
    "PointRobotEnv",
    "PointRobotVectorEnv",
    "TEST_GOALS",
    "TRAIN_GOALS",
    "TaskEnv",
    "as_dm_env",
    "optimal_return",
]

# id -> (module, single-env class, numpy vector-env class)
_IDS = {
    "DarkRoom-v0": ("envs.darkroom", "DarkRoomEnv", "DarkRoomVectorEnv"),
    "DarkRoomHard-v0": ("envs.darkroom", "DarkRoomHardEnv", "DarkRoomHardVectorEnv"),
    "DarkKeyToDoor-v0": ("envs.darkkeytodoor", "DarkKeyToDoorEnv", "DarkKeyToDoorVectorEnv"),
    "AdversarialBandit-v0": ("envs.bandit", "AdversarialBanditEnv", "AdversarialBanditVectorEnv"),
    "PixelWatermaze-v0": ("envs.watermaze", "PixelWatermazeEnv", "PixelWatermazeVectorEnv"),
    "PointRobot-v0": ("envs.pointrobot", "PointRobotEnv", "PointRobotVectorEnv"),
}
#: Every registered task family's id, in the order above.
ENV_IDS = tuple(_IDS)
for _id, (_module, _single, _vector) in _IDS.items():
    if _id not in registry:
        register(id=_id, entry_point=f"{_module}:{_single}", vector_entry_point=f"{_module}:{_vector}")


def __getattr__(name: str) -> Any:
    if name in ("PixelWatermazeEnv", "PixelWatermazeVectorEnv"):
        from envs import watermaze

        return getattr(watermaze, name)
    raise AttributeError(f"module 'envs' has no attribute {name!r}")

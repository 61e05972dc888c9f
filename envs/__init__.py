"""Task environments for in-context RL; importing this package registers their Gymnasium ids."""

from gymnasium.envs.registration import register, registry

from envs.darkroom import TEST_GOALS, TRAIN_GOALS, DarkRoomEnv, DarkRoomVectorEnv, optimal_return

__all__ = ["DarkRoomEnv", "DarkRoomVectorEnv", "TEST_GOALS", "TRAIN_GOALS", "optimal_return"]

if "DarkRoom-v0" not in registry:
    register(
        id="DarkRoom-v0",
        entry_point="envs.darkroom:DarkRoomEnv",
        vector_entry_point="envs.darkroom:DarkRoomVectorEnv",
    )

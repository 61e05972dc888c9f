"""A task family the package does not ship, in one file: Gymnasium's FrozenLake with a hidden goal.

Everything a new family needs, outside ``envs/`` and through the public API only: a
:class:`envs.TaskEnv` subclass (what a task is, the split, the score scales, the episode), one
``gymnasium.register`` and one :func:`ad_agent.presets.register_preset`. Importing this module does
both; ``main`` then measures AD on the family at a real budget (collect on every train goal,
distil, play the held-out goals in context) and writes ``results/lake_goals.json``.

    python -m benchmarks.lake_goals --seed 0
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

from ad_agent.collection.runner import collect, make_jobs
from ad_agent.deployment.evaluation import evaluate
from ad_agent.model import ModelShape
from ad_agent.pipeline import distill, random_mean_return
from ad_agent.presets import PRESETS, Preset, register_preset
from ad_agent.sources import SourceConfig
from ad_agent.training.loop import TrainConfig
from benchmarks.experiments import Curve, experiment_parser, finding, plot_curves, save_experiment
from envs import TaskEnv

ENV_ID = "LakeGoals-v0"
SIZE, START, HORIZON = 5, 12, 20  # a 5x5 lake without holes, starting in the centre cell, 20 steps
MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # FrozenLake's actions as (row, column) steps: left, down, right, up


class LakeGoalsEnv(TaskEnv[int]):
    """FrozenLake (``is_slippery=False``) whose goal cell is the task: reward 1 for reaching it, which
    ends the episode, else truncated after 20 steps. Observation: the agent's cell; 4 moves.
    Every cell but the start is a goal; those with ``cell % 4 == 1`` are held out (6 of 24)."""

    observation_space = spaces.Discrete(SIZE * SIZE)
    action_space = spaces.Discrete(4)

    def __init__(self, task: int | None = None) -> None:
        super().__init__(task)
        self._lake: FrozenLakeEnv | None = None
        self._steps = 0

    def check_task(self, task: Any) -> int:
        if isinstance(task, bool) or not isinstance(task, (int, np.integer)) or task not in self.all_tasks():
            raise ValueError(f"a goal is a cell 0..{SIZE * SIZE - 1} other than the start {START}, got {task!r}")
        return int(task)

    def sample_task(self, rng: np.random.Generator) -> int:
        return int(rng.choice(self.all_tasks()))

    def all_tasks(self) -> list[int]:
        return [cell for cell in range(SIZE * SIZE) if cell != START]

    def is_test_task(self, task: int) -> bool:
        return task % 4 == 1

    def optimal_return(self, task: int) -> float:
        return 1.0  # every goal is at most 4 moves from the centre

    def random_return(self, task: int) -> float:
        """Probability that uniformly random moves reach the goal within the horizon (exact, by dynamic programming)."""
        where = np.zeros(SIZE * SIZE)
        where[START] = 1.0
        found = 0.0
        for _ in range(HORIZON):
            moved = np.zeros_like(where)
            for cell in np.flatnonzero(where):
                for step in MOVES:
                    moved[_next_cell(int(cell), step)] += where[cell] / len(MOVES)
            found += moved[task]
            moved[task] = 0.0
            where = moved
        return float(found)

    def _start_episode(self) -> int:
        if self._lake is None or self._lake.desc[divmod(self.task, SIZE)] != b"G":
            rows = [["F"] * SIZE for _ in range(SIZE)]
            rows[START // SIZE][START % SIZE], rows[self.task // SIZE][self.task % SIZE] = "S", "G"
            self._lake = FrozenLakeEnv(desc=["".join(row) for row in rows], is_slippery=False)
        self._steps = 0
        return int(self._lake.reset()[0])

    def _transition(self, action: Any) -> tuple[int, float, bool, bool]:
        assert self._lake is not None  # reset() ran first (TaskEnv.step checks)
        obs, reward, terminated, _, _ = self._lake.step(int(action))
        self._steps += 1
        return int(obs), float(reward), terminated, not terminated and self._steps >= HORIZON


def _next_cell(cell: int, step: tuple[int, int]) -> int:
    row, column = divmod(cell, SIZE)
    return min(max(row + step[0], 0), SIZE - 1) * SIZE + min(max(column + step[1], 0), SIZE - 1)


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=LakeGoalsEnv)
if ENV_ID not in PRESETS:
    register_preset(
        Preset(
            env_id=ENV_ID,
            # slow enough that each actor's stream spans its learning (random to solved in ~15 episodes)
            source=SourceConfig(
                algo="PPO",
                n_envs=8,
                total_timesteps=8_000,
                hyperparams=dict(n_steps=20, batch_size=40, n_epochs=4, learning_rate=3e-4, ent_coef=0.01, gamma=0.95),
            ),
            runs_per_task=2,
            model=ModelShape(context_len=100, n_layers=2),
            train=TrainConfig(),
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = experiment_parser(__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50, help="in-context episodes per held-out trial")
    args = parser.parse_args(argv)
    started = time.time()
    preset = PRESETS[ENV_ID]
    steps, trials, runs = (20, 1, 1) if args.quick else (preset.train.steps, 4, preset.runs_per_task)
    train_tasks = preset.train_tasks[:2] if args.quick else preset.train_tasks
    source = dataclasses.replace(preset.source, total_timesteps=800) if args.quick else preset.source
    data = args.workdir / ENV_ID / f"{'quick-' if args.quick else ''}histories-seed{args.seed}"
    jobs = make_jobs(ENV_ID, train_tasks, runs, args.seed, "train")
    collect(jobs, source, data, workers=1)  # in this process: a worker would not have this module's env
    policy, _ = distill(preset, data, args.seed, steps)
    tasks = preset.test_tasks
    returns = evaluate(policy, ENV_ID, tasks * trials, args.episodes, args.seed)
    curve = Curve.from_returns("AD", returns, HORIZON)
    random = random_mean_return(preset, tasks)
    first, last = float(curve.mean[:10].mean()), float(curve.mean[-10:].mean())
    label = "lake_goals_quick" if args.quick else "lake_goals"
    plot = plot_curves([curve], 1.0, random, f"{ENV_ID}: held-out goals", args.results / f"{label}.png")
    figures = {
        "title": "AD on a task family defined outside the package (FrozenLake goals)",
        "summary": (
            f"{ENV_ID} (benchmarks/lake_goals.py): AD distilled from PPO histories on {len(train_tasks)} train goals "
            f"x {runs} runs, playing {len(tasks)} held-out goals x {trials} trials in context, frozen weights."
        ),
        "env_id": ENV_ID,
        "findings": [
            finding(
                "AD learns in context on the held-out goals of a family added in one file",
                last - first >= 0.1 * (1.0 - random),
                f"mean return {first:.2f} over the first 10 episodes, {last:.2f} over the last 10 "
                f"(optimal 1.00, random {random:.2f})",
            )
        ],
        "plots": [plot.name],
        "budgets": {"train_steps": steps, "episodes": args.episodes, "trials": trials, "source": str(source)},
        "wall_time_s": round(time.time() - started, 1),
    }
    print(f"wrote {save_experiment('lake_goals', args, figures, [curve])}")


if __name__ == "__main__":
    main()

"""Does a policy go back to a goal once it has found it? In-context learning on a one-goal room, taken apart.

On Dark Room and Dark Room Hard an episode earns reward exactly when it reaches the goal, so a trial's
returns say, episode by episode, whether the goal was found. Two numbers then separate the two halves
of in-context RL: *exploration* (how many episodes pass before the first find, and the share of
episodes up to it that find the goal) and *exploitation* (after an episode that found the goal, how
often the next one finds it again). Played on held-out goals and on spread train goals alike, with
the same policy and protocol, they show whether the policy generalises what it learned or
remembers its training goals. With ``--histories``, the same numbers for every stream of the learning
histories the policy was distilled from: how fast the source explores, stream by stream, against
the policy that imitates it, and how many streams first found the goal after a sibling actor of
their run had (and so may have been taught it by the shared policy).

    python -m benchmarks.return_to_goal --env DarkRoomHard-v0 --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple, cast

import gymnasium as gym
import numpy as np
import torch

from ad_agent import InContextPolicy, evaluate
from ad_agent.deployment.policy_file import PRETRAINED_PREFIX
from ad_agent.histories.runfile import iter_rewards
from ad_agent.histories.streams import episode_returns
from benchmarks.common import env_slug, write_result
from envs.core import Split, TaskEnv, evenly_spaced

ENVS = ("DarkRoom-v0", "DarkRoomHard-v0")  # reward exactly on the goal, so return > 0 means it was found


def goal_statistics(returns: np.ndarray) -> dict[str, float]:
    """Exploration and return-to-goal rates of ``(trials, episodes)`` returns, found meaning return > 0.

    ``return_rate``: of the episodes that found the goal (bar each trial's last), the share whose next
    episode found it too. ``episodes_to_first_find``: mean over the trials that found it at all.
    ``found_before_first_find``: the share of episodes up to and including each trial's first find
    that found the goal (1 / their number: how lucky exploration is). ``found_after_first_find``: the
    share of the later episodes that found it. NaN where no trial gives a number.
    """
    found = np.asarray(returns) > 0
    if found.ndim != 2 or found.shape[1] < 2:
        raise ValueError(f"need (trials, episodes >= 2) returns, got shape {found.shape}")
    ever = found.any(axis=1)
    first = np.where(ever, found.argmax(axis=1), found.shape[1])
    after = np.arange(found.shape[1]) > first[:, None]
    pairs = found[:, :-1]
    return {
        "trials_finding_the_goal": float(ever.mean()),
        "episodes_to_first_find": float((first[ever] + 1).mean()) if ever.any() else float("nan"),
        "found_before_first_find": float((1 / (first[ever] + 1)).mean()) if ever.any() else float("nan"),
        "found_after_first_find": float(found[after].mean()) if after.any() else float("nan"),
        "return_rate": float(found[:, 1:][pairs].mean()) if pairs.any() else float("nan"),
    }


class StreamReturns(NamedTuple):
    """Every stream's episode returns, ``(streams, episodes)``, each stream's run (its file's place in the
    folder) and each run's metadata."""

    returns: np.ndarray
    runs: np.ndarray
    metadata: list[dict[str, Any]]


def stream_returns(histories: Path) -> StreamReturns:
    """The returns of every stream of a dataset's run files, cut to the shortest stream's episodes less
    one (a stream's last episode may be cut short)."""
    rows, runs, metadata = [], [], []
    for index, run in enumerate(iter_rewards(histories)):
        rows += [episode_returns(r, s) for r, s in zip(run.rewards, run.episode_starts, strict=True)]
        runs += [index] * len(run.rewards)
        metadata.append(run.metadata)
    if not rows:
        raise ValueError(f"no run files in {histories}")
    episodes = min(len(row) for row in rows) - 1
    return StreamReturns(np.stack([row[:episodes] for row in rows]), np.asarray(runs), metadata)


def first_finds_after_a_sibling(returns: np.ndarray, runs: np.ndarray) -> float:
    """Of the streams that find their goal, the share whose first find comes in a later episode than
    another stream of the same run first found it: a learner's actors share one policy, so such a
    stream was taught where the goal is by a sibling. Episodes align across a run's actors on the
    fixed-length Dark rooms, where the actors step together."""
    found = np.asarray(returns) > 0
    finders = found.any(axis=1)
    first = np.where(finders, found.argmax(axis=1), np.iinfo(np.int64).max)
    run_first = np.full(runs.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(run_first, runs, first)  # a stream later than its run's earliest is later than a sibling
    after = first > run_first[runs]
    return float(after[finders].mean()) if finders.any() else float("nan")


def split_tasks(env_id: str, split: Split, n: int) -> list[Any]:
    """``n`` tasks of ``split`` spread over it (all of them if it has fewer)."""
    env = cast(TaskEnv, gym.make(env_id).unwrapped)
    tasks = env.tasks(split)
    return evenly_spaced(tasks, min(n, len(tasks)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    policy = InContextPolicy.load(args.policy or f"{PRETRAINED_PREFIX}{args.env}", device="cpu")
    if policy.spec.env_id != args.env:
        raise SystemExit(f"--policy plays {policy.spec.env_id}, not --env {args.env}")
    splits = {}
    for split in cast(tuple[Split, ...], ("test", "train")):
        tasks = split_tasks(args.env, split, args.tasks)
        returns = evaluate(policy, args.env, tasks * args.trials, args.episodes, args.seed)
        splits["held-out goals" if split == "test" else "train goals"] = {
            "goals": len(tasks),
            "mean_return": float(returns.mean()),
            **goal_statistics(returns),
        }
    if args.histories is not None:
        returns, runs, _ = stream_returns(args.histories)
        splits["source histories (train goals)"] = {
            "streams": len(returns),
            "episodes_per_stream": returns.shape[1],
            "mean_return": float(returns.mean()),
            **goal_statistics(returns),
            "first_find_after_a_sibling": first_finds_after_a_sibling(returns, runs),
        }
    return {
        "title": f"Return to the goal once found: {args.env}, held-out against train goals",
        "env_id": args.env,
        "policy": args.policy or f"{PRETRAINED_PREFIX}{args.env}",
        "protocol": f"{args.trials} trials x {args.episodes} episodes per goal, sampled actions, frozen weights",
        "seed": args.seed,
        "splits": splits,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkRoomHard-v0", choices=ENVS)
    parser.add_argument("--policy", default=None, help="policy folder (default: the one shipped for --env)")
    parser.add_argument("--tasks", type=int, default=16, help="goals per split, spread over it")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--histories", type=Path, default=None, help="also the streams of this dataset folder")
    parser.add_argument("--record-suffix", default="", help="appended to the record's name (another policy or data)")
    args = parser.parse_args(argv)
    if args.histories is not None and not args.histories.is_dir():
        parser.error(f"--histories {args.histories} is not a folder")
    torch.set_num_threads(1)
    figures = run(args)
    for split, stats in figures["splits"].items():
        print(split, {k: round(v, 3) for k, v in stats.items()})
    name = f"return_to_goal_{env_slug(args.env)}" + (f"_{args.record_suffix}" if args.record_suffix else "")
    print(f"wrote {write_result(name, figures)}")


if __name__ == "__main__":
    main()

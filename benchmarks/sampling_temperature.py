"""Is in-context exploration a matter of sampling noise? A shipped policy played at several temperatures.

On Dark Room Hard AD first finds a held-out goal after about 47 episodes while the streams it was
distilled from take 13 (``return_to_goal``). If AD merely sampled too timidly, a hotter distribution
would find goals sooner at little cost; if its search is slow in kind, heat trades the return to a
found goal for a faster first find. The policy, tasks and seed are fixed; only the temperature at
which actions are sampled (:meth:`ad_agent.InContextPolicy.act`) changes. Temperature 1 is the
paper's protocol; the others are a diagnostic, not a recipe.

    python -m benchmarks.sampling_temperature --env DarkRoomHard-v0 --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ad_agent import InContextPolicy, evaluate
from ad_agent.deployment.policy_file import PRETRAINED_PREFIX
from ad_agent.pipeline import block_means, optimal_mean_return, random_mean_return
from ad_agent.presets import get_preset, max_episode_steps
from benchmarks.common import RESULTS_DIR, env_slug, write_result
from benchmarks.experiments import Curve, plot_curves
from benchmarks.return_to_goal import ENVS, goal_statistics, split_tasks

BLOCKS = ((1, 10), (41, 50), (91, 100), (191, 200), (291, 300))


def play(
    policy: InContextPolicy, args: argparse.Namespace, tasks: list, temperature: float
) -> tuple[Curve, dict[str, float]]:
    """The held-out curve at ``temperature`` and its blocks and goal statistics (``evaluate`` resets the
    policy, so every temperature starts from the same empty context and seed)."""
    returns = evaluate(policy, args.env, tasks, args.episodes, args.seed, temperature=temperature)
    blocks = {f"ep {block}": round(mean, 3) for block, mean in block_means(returns, BLOCKS).items()}
    curve = Curve.from_returns(f"temperature {temperature:g}", returns, max_episode_steps(args.env))
    return curve, {**blocks, **{k: round(v, 3) for k, v in goal_statistics(returns).items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="DarkRoomHard-v0", choices=ENVS)
    parser.add_argument("--policy", default=None, help="policy folder (default: the one shipped for --env)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 1.0, 1.1, 1.3])
    parser.add_argument("--tasks", type=int, default=16, help="held-out goals, spread over the split")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON and plot go")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    policy = InContextPolicy.load(args.policy or f"{PRETRAINED_PREFIX}{args.env}", device="cpu")
    if policy.spec.env_id != args.env:
        raise SystemExit(f"--policy plays {policy.spec.env_id}, not --env {args.env}")
    tasks = split_tasks(args.env, "test", args.tasks) * args.trials
    played = {t: play(policy, args, tasks, t) for t in args.temperatures}  # evaluate checks each temperature
    preset = get_preset(args.env)
    optimal, random = optimal_mean_return(preset), random_mean_return(preset)
    name = f"sampling_temperature_{env_slug(args.env)}"
    title = f"Held-out return of {args.policy or 'the shipped policy'} on {args.env} by sampling temperature"
    plot = plot_curves([curve for curve, _ in played.values()], optimal, random, title, args.results / f"{name}.png")
    table = {f"temperature {t:g}": row for t, (_, row) in played.items()}
    for label, row in table.items():
        print(label, row)
    summary = "; ".join(
        f"{label}: episodes 91-100 {row.get('ep 91-100', float('nan'))}, first find after "
        f"{row['episodes_to_first_find']} episodes, return to a found goal {row['return_rate']}"
        for label, row in table.items()
    )
    figures = {
        "title": title,
        "summary": f"Held-out goals ({args.tasks} x {args.trials} trials, optimal {optimal:.2f}): {summary}.",
        "env_id": args.env,
        "policy": args.policy or f"{PRETRAINED_PREFIX}{args.env}",
        "protocol": f"{args.tasks} held-out goals x {args.trials} trials x {args.episodes} episodes, frozen weights",
        "seed": args.seed,
        "optimal": optimal,
        "random": random,
        "tables": {"Mean return per episode block and goal statistics, by sampling temperature": table},
        "curves": [curve.to_dict() for curve, _ in played.values()],
        "plots": [plot.name],
    }
    print(f"wrote {write_result(name, figures, args.results)}")


if __name__ == "__main__":
    main()

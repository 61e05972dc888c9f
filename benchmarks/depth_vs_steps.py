"""The fast preset on 2 cores: half the depth for more training steps, at what cost and return?

Issue 6 asks for a ``fast`` preset tuned for 2 CPU cores. On this CPU every part of a training
step is a library kernel (``train_throughput``), so the remaining lever is the model's shape: a
transformer of half the depth trains about 1.5-1.8x faster per step. This script asks whether
the steps that buys are worth more than the depth. It distils the Dark Room default data at the
preset's depth (the shipped policy: 1,200 steps) and 2.5x longer, and at half the depth for as
many and for twice as many steps; each plays the held-out goals in context. Training cost is
steps x seconds per step, the seconds measured in this process on the same synthetic windows
for both depths (alternating rounds; the CPU is shared), relative to the default.

    python -m benchmarks.depth_vs_steps --seed 0           # full: 25 min on 1 core; 55 min without a cached
                                                           # 4-layer 3,000-step policy
    python -m benchmarks.depth_vs_steps --quick --seed 0   # smoke run
"""

from __future__ import annotations

import statistics

from ad_agent.presets import Preset
from benchmarks.ablation_common import (
    budget,
    curve_summary,
    default_policy,
    finish,
    held_out_curve,
    scale,
    setup,
    source_data,
    variant,
)
from benchmarks.experiments import experiment_parser, trained_policy
from benchmarks.train_throughput import synthetic_histories, timed_training

ENV = "DarkRoom-v0"
# (depth: the preset's or half of it, training steps as a multiple of the preset's)
VARIANTS = (("full", 1.0), ("half", 1.0), ("half", 2.0), ("full", 2.5))
TIMED_STEPS, TIMED_ROUNDS = 5, 2
MATCH = 0.05  # of optimal: "as well as" for the last episodes' mean return


def seconds_per_step(presets: dict[str, Preset], seed: int) -> dict[str, float]:
    """Median training-step seconds of each preset's model on the same synthetic windows."""
    data = synthetic_histories(seed)
    times: dict[str, list[float]] = {name: [] for name in presets}
    for _ in range(TIMED_ROUNDS):
        for name, preset in presets.items():
            _, seconds = timed_training(data, preset.model_config(), preset.train, TIMED_STEPS, seed)
            times[name] += seconds[1:]  # the first step warms up
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args)
    data = source_data(ENV, args)
    full = variant(ENV, args, model={"n_layers": 2} if args.quick else None)  # quick: 2 layers against 1
    depth = {"full": full.model.value("n_layers"), "half": max(1, full.model.value("n_layers") // 2)}
    presets = {role: variant(ENV, args, model={"n_layers": layers}) for role, layers in depth.items()}
    base_steps = plan.train_steps or full.train.steps
    per_step = seconds_per_step(presets, args.seed)
    curves, costs = [], {}
    for role, factor in VARIANTS:
        steps = round(base_steps * factor)
        if (role, factor) == ("full", 1.0):
            policy, name = default_policy(args, full)
        else:
            name = f"ad-{depth[role]}layers-steps{steps}" if role == "half" else f"ad-steps{steps}"
            policy = trained_policy(presets[role], data, args.seed, args.workdir, name, steps)
        method = f"{depth[role]} layers, {steps} steps"
        curves.append(held_out_curve(method, policy, presets[role], plan, args.seed))
        cost = steps * per_step[role] / (base_steps * per_step["full"])
        costs[method] = {"layers": depth[role], "steps": steps, "seconds_per_step": per_step[role]}
        costs[method] |= {"training_cost_vs_default": cost, "policy": name}
    last = {c.method: curve_summary(c)["last_episodes"] for c in curves}
    default, shallow_short, shallow_long, deep_long = curves
    best, _ = scale(full)
    cost_long = costs[shallow_long.method]["training_cost_vs_default"]
    cost_deep = costs[deep_long.method]["training_cost_vs_default"]
    reproduced = last[shallow_long.method] >= last[deep_long.method] - MATCH * best and cost_long < cost_deep / 2
    evidence = (
        "Mean held-out return over the last 10 episodes (optimal "
        f"{best:.2f}) and training cost relative to the default: "
        + "; ".join(f"{m}: {last[m]:.2f} at {costs[m]['training_cost_vs_default']:.2f}x" for m in last)
        + f". Seconds per step: {depth['full']} layers {per_step['full']:.3f}, "
        f"{depth['half']} layers {per_step['half']:.3f}."
    )
    finish(
        "depth_vs_steps",
        args,
        title="Dark Room: half the depth, more training steps (fast preset, issue 6)",
        claim=f"{shallow_long.method} learns in context as well as {deep_long.method} (within "
        f"{MATCH:.0%} of optimal over the last 10 episodes) at under half its training cost",
        reproduced=reproduced,
        evidence=evidence,
        curves=curves,
        preset=full,
        plan=plan,
        claim_source="Our hypothesis",
        note="Not a paper experiment: its Tables 1-2 fix 4 layers. "
        f"The default ({default.method}) and {shallow_short.method} show what depth buys at equal steps.",
        tables={"training cost": costs},
    )


if __name__ == "__main__":
    main()

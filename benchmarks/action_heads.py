"""Which action head for continuous actions: bins per dimension, or a squashed Gaussian?

AD is distilled twice from the PointRobot-v0 preset's histories (one Gaussian PPO run per train
goal), with everything the same but the head: the preset's categorical over 21 bins per dimension
(the shipped ``pretrained:PointRobot-v0`` policy, loaded rather than retrained for seed 0), and a
squashed Gaussian per dimension (:mod:`ad_agent.model.heads`). Both are played with sampled actions on
held-out goals, as in the main results; the head that learns in context better is the default.

    python -m benchmarks.action_heads [--quick] --seed 0
"""

from __future__ import annotations

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

ENV = "PointRobot-v0"
FULL_EVAL_TASKS, FULL_TRIALS, FULL_EPISODES = 32, 4, 100  # the main results' protocol


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args, None, FULL_EPISODES, FULL_EVAL_TASKS, FULL_TRIALS)
    categorical = variant(ENV, args)
    policy, _ = default_policy(args, categorical)
    curves = [held_out_curve("categorical (21 bins)", policy, categorical, plan, args.seed)]
    gaussian = variant(ENV, args, model={"action_head": "gaussian"})
    data = source_data(ENV, args)
    policy = trained_policy(gaussian, data, args.seed, args.workdir, "ad-gaussian", plan.train_steps)
    curves.append(held_out_curve("squashed Gaussian", policy, gaussian, plan, args.seed))
    bins, gauss = (curve_summary(curve) for curve in curves)
    optimal, _ = scale(categorical)
    to_80 = {c.method: c.steps_to_reach(0.8 * optimal) for c in curves}
    evidence = (
        f"Held-out return, first 3 -> last 10 of {len(curves[0].mean)} episodes: categorical "
        f"{bins['first_episodes']:.2f} -> {bins['last_episodes']:.2f}, Gaussian {gauss['first_episodes']:.2f} -> "
        f"{gauss['last_episodes']:.2f} (optimal {optimal:.2f}); env steps to 80% of optimal: "
        + ", ".join(f"{method} {steps if steps is not None else 'never'}" for method, steps in to_80.items())
        + "."
    )
    finish(
        "action_heads",
        args,
        title="AD on the point robot: categorical bins vs a squashed Gaussian action head",
        claim="a categorical over bins per dimension learns in context at least as well as a squashed Gaussian",
        claim_source="Our choice of default head",
        reproduced=bins["last_episodes"] >= gauss["last_episodes"],
        evidence=evidence,
        curves=curves,
        preset=categorical,
        plan=plan,
        note="One training seed; the preset's data and training for both heads, sampled actions in evaluation.",
    )


if __name__ == "__main__":
    main()

"""Paper Fig. 6: AD distilled from subsampled histories of a slow learner improves faster in context.

The paper distils single-stream histories (one actor per learner, so the learner improves slowly
along the stream) as they are and subsampled to every k-th episode, which compresses the same
improvement into fewer episodes; the subsampled AD learns faster in context. ``ad-agent collect``
cannot run a preset learner with one actor, so the slow learner here is the DQN Dark Room preset
(16 actors, about 125 episodes per stream, epsilon annealed over the first 50 of them): each stream
improves over tens of episodes, far more slowly than the default PPO preset's (64 actors, 10-15
episodes). Both policies train with the same (reduced) budget on the same runs.

    python -m benchmarks.subsampling [--quick] --seed 0
"""

from __future__ import annotations

from benchmarks.ablation_common import budget, curve_summary, finish, held_out_curve, setup, source_data, variant
from benchmarks.experiments import experiment_parser, trained_policy

ENV = "DarkRoom-v0"
EVERY = 4  # 125 episodes per stream -> 31, still longer than the 10-episode context
FULL_TRAIN_STEPS = 400  # a sixth of the preset's steps: two models and a dataset on a shared 2-core machine
SOURCE = {"algo": "DQN", "runs_per_task": 1, "num_tasks": 16}  # a quarter of the train goals, one run each


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args, train_steps=FULL_TRAIN_STEPS)
    preset = variant(ENV, args)
    data = source_data(ENV, args, name="dqn", **SOURCE)
    curves = []
    for every in (1, EVERY):
        policy = trained_policy(
            preset, data, args.seed, args.workdir, f"ad-dqn-every{every}", plan.train_steps, every_kth_episode=every
        )
        label = "all episodes" if every == 1 else f"every {every}th episode"
        curves.append(held_out_curve(f"AD, {label}", policy, preset, plan, args.seed))
    full, sub = (curve_summary(c) for c in curves)
    reproduced = sub["gain"] > full["gain"] and sub["last_episodes"] >= full["last_episodes"]
    evidence = (
        f"In-context gain (last 10 minus first 3 held-out episodes): all episodes {full['gain']:+.2f} "
        f"(to {full['last_episodes']:.2f}), every {EVERY}th episode {sub['gain']:+.2f} "
        f"(to {sub['last_episodes']:.2f})."
    )
    finish(
        "subsampling",
        args,
        title="AD on Dark Room: subsampled source histories (paper Fig. 6)",
        claim="AD on subsampled histories of a slow learner learns faster in context than on the full histories",
        reproduced=reproduced,
        evidence=evidence,
        curves=curves,
        preset=preset,
        plan=plan,
        note=f"Multi-stream DQN histories (16 actors, {SOURCE['num_tasks']} goals) stand in for single-stream "
        f"ones; {plan.train_steps} train steps.",
        source=SOURCE,
        every_kth_episode=EVERY,
    )


if __name__ == "__main__":
    main()

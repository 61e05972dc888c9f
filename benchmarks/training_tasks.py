"""Paper Fig. 12: AD needs enough training tasks to generalise in context to held-out ones.

AD is distilled from the source histories of 4 and 16 Dark Room training goals spread over the split
and of all 64 (the same runs: a smaller set reuses the larger one's files) with one reduced budget (a 5-episode
context, batch 32, 600 steps: about a sixteenth of the preset's compute, what a shared 2-core machine
affords for three models), and played on the 17 held-out goals. The paper finds in-context RL on
held-out tasks degrades as the number of training tasks shrinks.

    python -m benchmarks.training_tasks [--quick] --seed 0
"""

from __future__ import annotations

from benchmarks.ablation_common import (
    QUICK_TASKS,
    budget,
    curve_summary,
    finish,
    held_out_curve,
    scale,
    setup,
    source_data,
    task_subset,
    variant,
)
from benchmarks.experiments import experiment_parser, trained_policy

ENV = "DarkRoom-v0"
FULL_TASKS = (4, 16, 64)  # 64 = every train goal: the default dataset
FULL_TRAIN_STEPS = 600
FULL_MODEL = {"context_len": 100}
FULL_TRAIN = {"batch_size": 32}
QUICK_TASK_COUNTS = (1, QUICK_TASKS)


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args, train_steps=FULL_TRAIN_STEPS)
    preset = variant(ENV, args) if args.quick else variant(ENV, args, model=FULL_MODEL, **FULL_TRAIN)
    counts = QUICK_TASK_COUNTS if args.quick else FULL_TASKS
    curves, policies = [], {}
    for n in counts:
        data = source_data(ENV, args) if n == counts[-1] else task_subset(ENV, args, n)
        name = f"ad-tasks{n}"
        policy = trained_policy(preset, data, args.seed, args.workdir, name, plan.train_steps)
        curves.append(held_out_curve(f"{n} training tasks", policy, preset, plan, args.seed))
        policies[curves[-1].method] = name
    finals = {c.method: curve_summary(c)["last_episodes"] for c in curves}
    values = list(finals.values())
    reproduced = all(a < b for a, b in zip(values, values[1:], strict=False))
    evidence = (
        f"Held-out return over the last 10 episodes of {len(curves[0].mean)}-episode trials: "
        + ", ".join(f"{m}: {v:.2f}" for m, v in finals.items())
        + f" (optimal {scale(preset)[0]:.2f})."
    )
    finish(
        "training_tasks",
        args,
        title="AD on Dark Room: number of training tasks (paper Fig. 12)",
        claim="in-context RL on held-out tasks gets better with more training tasks",
        reproduced=reproduced,
        evidence=evidence,
        curves=curves,
        preset=preset,
        plan=plan,
        note=f"Each policy: context {preset.model.value('context_len')}, batch {preset.train.batch_size}, "
        f"{plan.train_steps} steps; fewer tasks = the runs of goals spread over the split.",
        training_tasks=list(counts),
        policies=policies,
    )


if __name__ == "__main__":
    main()

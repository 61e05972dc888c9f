"""Paper Fig. 10 (App. F): label smoothing helps AD's in-context RL on Dark Room (Hard).

AD is distilled from the DarkRoomHard-v0 preset's histories with the paper's Table 1 regularisers
for it, input masking 0.5 with label smoothing 0 and with 0.2 (the preset itself uses neither: see
ad_agent/presets.py), the same (reduced) training budget otherwise, and played on held-out goals.
The paper finds smoothing (up to a point) improves in-context learning there. Full mode scales the
paper's all-goals setting to what 2 cores afford: histories of 48 of the 231 train goals (one PPO
run each) and 16 held-out goals x 2 trials, all spread over their splits; the runs are linked
from the whole split's collection when it is there (the main results' Dark Room Hard data).

    python -m benchmarks.label_smoothing [--quick] --seed 0
"""

from __future__ import annotations

from benchmarks.ablation_common import budget, curve_summary, finish, held_out_curve, setup, source_data, variant
from benchmarks.experiments import experiment_parser, trained_policy

ENV = "DarkRoomHard-v0"
PAPER_ALPHA, PAPER_MASK_PROB = 0.2, 0.5  # Table 1, Dark Room (Hard)
FULL_TRAIN_STEPS = 400
FULL_TASKS = 48  # train goals with source histories
FULL_EVAL_TASKS, FULL_TRIALS, FULL_EPISODES = 16, 2, 50


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args, FULL_TRAIN_STEPS, FULL_EPISODES, FULL_EVAL_TASKS, FULL_TRIALS)
    data = source_data(ENV, args, name=f"tasks{FULL_TASKS}", num_tasks=FULL_TASKS)
    curves = []
    for alpha in (0.0, PAPER_ALPHA):
        preset = variant(ENV, args, mask_prob=PAPER_MASK_PROB, label_smoothing=alpha)
        policy = trained_policy(preset, data, args.seed, args.workdir, f"ad-smoothing{alpha}", plan.train_steps)
        curves.append(held_out_curve(f"label smoothing {alpha}", policy, preset, plan, args.seed))
    off, on = curve_summary(curves[0]), curve_summary(curves[-1])
    reproduced = on["last_episodes"] > off["last_episodes"]
    evidence = (
        f"Held-out return, first 3 -> last 10 episodes: {curves[0].method} {off['first_episodes']:.2f} -> "
        f"{off['last_episodes']:.2f}, {curves[-1].method} {on['first_episodes']:.2f} -> {on['last_episodes']:.2f}."
    )
    finish(
        "label_smoothing",
        args,
        title="AD on Dark Room (Hard): label smoothing (paper Fig. 10)",
        claim="label smoothing improves AD's in-context RL on Dark Room (Hard)",
        reproduced=reproduced,
        evidence=evidence,
        curves=curves,
        preset=preset,
        plan=plan,
        note=(
            f"One training seed; {plan.train_steps} train steps, input masking {PAPER_MASK_PROB}, otherwise "
            "the DarkRoomHard-v0 preset."
        ),
    )


if __name__ == "__main__":
    main()

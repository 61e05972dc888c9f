"""Paper Fig. 14 (App. K): AD with a transformer vs with an LSTM on Dark Room.

Both architectures are distilled from the same Dark Room histories with the same (reduced) number of
training steps, the LSTM with the ``lstm`` training preset's shape (:data:`ad_agent.presets.TRAIN_PRESETS`),
and both play the held-out goals. The paper finds the LSTM variant learns in context too, but less
well than the transformer.

    python -m benchmarks.transformer_vs_lstm [--quick] --seed 0
"""

from __future__ import annotations

from ad_agent.presets import TRAIN_PRESETS
from benchmarks.ablation_common import budget, curve_summary, finish, held_out_curve, setup, source_data, variant
from benchmarks.experiments import experiment_parser, trained_policy

ENV = "DarkRoom-v0"
FULL_TRAIN_STEPS = 400


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args, train_steps=FULL_TRAIN_STEPS)
    data = source_data(ENV, args)
    variants = {"transformer": (variant(ENV, args), "ad-steps400")}
    lstm_model = {**TRAIN_PRESETS["lstm"].model.choices(), **({"d_model": 32, "lstm_hidden": 32} if args.quick else {})}
    variants["LSTM"] = (variant(ENV, args, model=lstm_model), "ad-lstm-steps400")
    curves = []
    for method, (preset, name) in variants.items():
        policy = trained_policy(preset, data, args.seed, args.workdir, name, plan.train_steps)
        curves.append(held_out_curve(method, policy, preset, plan, args.seed))
    transformer, lstm = (curve_summary(c) for c in curves)
    reproduced = lstm["gain"] > 0.5 and lstm["last_episodes"] < transformer["last_episodes"]
    evidence = (
        f"Held-out return, first 3 -> last 10 episodes: transformer {transformer['first_episodes']:.2f} -> "
        f"{transformer['last_episodes']:.2f}, LSTM {lstm['first_episodes']:.2f} -> {lstm['last_episodes']:.2f}."
    )
    finish(
        "transformer_vs_lstm",
        args,
        title="AD on Dark Room: transformer vs LSTM (paper Fig. 14)",
        claim="an LSTM can also learn in context, but less well than the transformer",
        reproduced=reproduced,
        evidence=evidence,
        curves=curves,
        preset=variants["transformer"][0],
        plan=plan,
        note=(
            f"Both train {plan.train_steps} steps (reduced from the preset's {variants['transformer'][0].train.steps} "
            "to fit a shared 2-core machine)."
        ),
        lstm_model=lstm_model,
    )


if __name__ == "__main__":
    main()

"""Paper Fig. 5: AD prompted with a demonstration improves on it in context, faster the better it is.

The default Dark Room AD policy starts each held-out trial with its context pre-filled
(:meth:`InContextPolicy.prime`) with a few episodes of a policy of known quality on that very goal,
then plays on. The paper prompts with episodes from the source's history on test tasks, from
near-random to near-expert; here the prompts come from the scripted expert acting at random with a
fixed probability epsilon (1 = a random policy, small = near-expert), which spans the same range at
no training cost. The paper finds AD improves every prompt in context up to near-optimal, faster
the better the prompt.

    python -m benchmarks.prompting [--quick] --seed 0
"""

from __future__ import annotations

import numpy as np

from ad_agent.presets import Preset, max_episode_steps
from ad_agent.sources.noisy_expert import EXPERTS, NoisyExpert
from ad_agent.sources.scripted import fixed_task_vector_env, rollout
from benchmarks.ablation_common import (
    Budget,
    PrimedPolicy,
    budget,
    curve_summary,
    default_policy,
    finish,
    held_out_curve,
    held_out_tasks,
    setup,
    variant,
)
from benchmarks.experiments import experiment_parser

ENV = "DarkRoom-v0"
EPSILONS = (1.0, 0.5, 0.1)  # random, mediocre, near-expert demonstrations
PROMPT_EPISODES = 4  # 80 steps: under half the 200-step context, so the policy's own episodes follow


def demonstrations(preset: Preset, plan: Budget, epsilon: float, seed: int) -> dict[str, np.ndarray]:
    """``PROMPT_EPISODES`` episodes of the epsilon-noisy expert for every evaluation trial, in
    :func:`~benchmarks.ablation_common.eval_tasks` order (each task once per trial, trial after trial)."""
    tasks = held_out_tasks(preset, plan)
    trials = plan.trials or preset.eval_trials_per_task
    n_steps = PROMPT_EPISODES * max_episode_steps(ENV)
    runs = []
    for i, task in enumerate(tasks):
        env = fixed_task_vector_env(ENV, {"task": task}, trials)
        rng = np.random.default_rng([seed, i])
        epsilons = np.full(n_steps, epsilon)
        agent = NoisyExpert(EXPERTS[ENV], np.asarray(task), env.single_action_space, epsilons, trials, rng)
        runs.append(rollout(env, agent, n_steps, seed + i))

    def trial_major(name: str) -> np.ndarray:
        arr = np.stack([getattr(run, name) for run in runs])  # (tasks, trials, steps, ...)
        return arr.swapaxes(0, 1).reshape(-1, *arr.shape[2:])

    return {name: trial_major(name) for name in ("observations", "actions", "rewards")}


def main(argv: list[str] | None = None) -> None:
    args = experiment_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup(args)
    plan = budget(args)
    preset = variant(ENV, args)
    policy, policy_name = default_policy(args, preset)
    curves = [held_out_curve("no prompt", policy, preset, plan, args.seed)]
    prompt_returns = {}
    for epsilon in EPSILONS:
        demo = demonstrations(preset, plan, epsilon, args.seed)
        method = f"prompt: {PROMPT_EPISODES} episodes, epsilon {epsilon}"
        prompt_returns[method] = float(demo["rewards"].sum(axis=1).mean() / PROMPT_EPISODES)
        primed = PrimedPolicy(policy, demo["observations"], demo["actions"], demo["rewards"])
        curves.append(held_out_curve(method, primed, preset, plan, args.seed))
    stats = {c.method: curve_summary(c) for c in curves}
    prompted = curves[1:]
    improves = all(stats[c.method]["last_episodes"] > prompt_returns[c.method] for c in prompted)
    first = [stats[c.method]["first_episodes"] for c in prompted]
    ordered = all(a <= b for a, b in zip(first, first[1:], strict=False))
    evidence = (
        "Mean return of the prompt's own episodes -> AD's first 3 and last 10 episodes after it: "
        + "; ".join(
            f"{m}: {prompt_returns[m]:.2f} -> {stats[m]['first_episodes']:.2f} -> {stats[m]['last_episodes']:.2f}"
            for m in prompt_returns
        )
        + f"; no prompt: {stats['no prompt']['first_episodes']:.2f} -> {stats['no prompt']['last_episodes']:.2f}. "
        f"AD ends above every prompt: {'yes' if improves else 'no'}; better prompts start higher: "
        f"{'yes' if ordered else 'no'}."
    )
    finish(
        "prompting",
        args,
        title="AD on Dark Room prompted with demonstrations (paper Fig. 5)",
        claim="AD improves a prompted policy in context, and the better the prompt the better it starts",
        reproduced=improves and ordered,
        evidence=evidence,
        curves=curves,
        preset=preset,
        plan=plan,
        note="Prompts come from an epsilon-noisy scripted expert, not the source's history; ED is not included.",
        policy=policy_name,
        prompt_episodes=PROMPT_EPISODES,
        prompt_returns=prompt_returns,
    )


if __name__ == "__main__":
    main()

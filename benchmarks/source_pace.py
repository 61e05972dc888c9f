"""AD against the distributed source it distilled: the paper's own data-efficiency comparison (Fig. 4, Sec. 5).

The paper's source is distributed (A3C with 100 actors), and it explains AD's data efficiency by
that: a distributed learner "may not be very data-efficient in aggregate but each individual actor
can be", and AD, which models each actor's stream as one history, "achieves similar performance to
the multi-stream distributed RL algorithm, but is more data-efficient as a single-stream method".
``main_results`` compares AD with the source run afresh as a single stream; this script makes the
paper's comparison instead, from the learning histories AD was distilled from (every stream of every
run, on the train tasks), read two ways:

- **one actor**: the mean return of the streams' k-th episodes against k episodes of env steps, the
  experience one actor had when it played them;
- **all actors**: the same returns against k episodes x the run's actors, the env steps the whole
  learner had taken by then (its actors step together on these fixed-length episodes). Only for a
  source whose actors feed one learner (SB3's, the batched learners): a scripted source's actors
  (the grid searcher's, the noisy expert's) are independent, and each is its own single stream.

A single-stream source (``ad-agent collect --single-stream``, one actor a run) has one curve, the
learner's, and the claim is the paper's Fig. 6 one: AD, distilled from every k-th episode of such
histories, reaches 80% of optimal in >= 5x fewer env steps than the source does.

Returns are shares of each task's optimal return, so AD's curves (held-out tasks, frozen weights,
read from the records given with ``--ad``) and the source's (train tasks) sit on one scale. Claims:
AD reaches 80% of optimal in >= 5x fewer env steps than the source counted over all its actors;
and AD, after as many episodes as an actor played, is within 10% of optimal of that actor.

    python -m benchmarks.source_pace --env DarkRoom-v0 --seed 0 \\
        --histories runs/experiments/DarkRoom-v0/histories-seed0 --ad benchmarks/results/main_results_darkroom.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from ad_agent.presets import get_preset, max_episode_steps
from benchmarks.common import RESULTS_DIR, env_slug, write_result
from benchmarks.experiments import Curve, finding, plot_curves, speedup_finding
from benchmarks.main_results import SPEEDUP
from benchmarks.return_to_goal import StreamReturns, stream_returns

ENVS = ("DarkRoom-v0", "DarkRoomHard-v0", "DarkKeyToDoor-v0")  # fixed-length episodes, actors in step
SIMILAR = 0.1  # "similar performance": within this share of optimal of one actor after as many episodes
LEVELS = (0.8, 0.9)
#: Sources whose actors feed one learner (SB3's and the batched PPO/A2C): their env steps add up to its cost.
ONE_LEARNER = ("SourceConfig", "BatchedSourceConfig")


def source_curves(streams: StreamReturns, env_id: str) -> tuple[Curve, Curve | None]:
    """The source's share of optimal per episode, against one actor's env steps and, for a source whose
    actors make one learner (:data:`ONE_LEARNER`), against all its run's actors' env steps."""
    preset = get_preset(env_id)
    if any(meta["env_id"] != env_id for meta in streams.metadata):
        raise ValueError(f"the histories are not all of {env_id}")
    actors = set(np.bincount(streams.runs).tolist())
    if len(actors) != 1:
        raise ValueError(f"the runs have different numbers of actors ({sorted(actors)}): no one aggregate step count")
    optimal = np.array([preset.optimal_return(meta["task"]["task"]) for meta in streams.metadata])
    episode_length = max_episode_steps(env_id)
    if episode_length is None:
        raise ValueError(f"{env_id} has no fixed episode length")
    actors_per_run, shares = actors.pop(), streams.returns / optimal[streams.runs, None]
    if actors_per_run == 1:  # a single-stream source (Fig. 6): its one actor is the whole learner
        return Curve.from_returns("source, single stream", shares, episode_length), None
    one = Curve.from_returns("source, one actor", shares, episode_length)
    if not all(meta["source"]["kind"] in ONE_LEARNER for meta in streams.metadata):
        return one, None  # independent actors: all of them together are not one learner's cost
    return one, dataclasses.replace(one, method="source, all actors", steps=one.steps * actors_per_run)


def ad_curves(records: list[Path], env_id: str) -> tuple[list[Curve], float]:
    """Every AD curve of ``records`` as shares of the record's optimal return, and random's share."""
    curves, randoms = [], []
    for path in records:
        record = json.loads(path.read_text())
        if record.get("env_id") != env_id:
            raise ValueError(f"{path} is a record of {record.get('env_id')}, not {env_id}")
        optimal = record["optimal"]
        randoms.append(record["random"] / optimal)
        for raw in record["curves"]:
            if raw["method"].startswith("AD"):
                curve = Curve.from_dict(raw)
                curves.append(
                    Curve(
                        f"{curve.method} ({path.stem})", curve.steps, curve.mean / optimal, curve.std / optimal, curve.n
                    )
                )
    if not curves:
        raise ValueError(f"no AD curve in {[str(p) for p in records]}")
    return curves, float(np.mean(randoms))


def pace_row(curve: Curve) -> dict[str, Any]:
    """Env steps (and episodes, an actor's for the source) until ``curve`` first reaches each level."""
    row: dict[str, Any] = {}
    for level in LEVELS:
        steps = curve.steps_to_reach(level)
        row[f"env steps to {level:.0%}"] = steps
        row[f"episodes to {level:.0%}"] = None if steps is None else int(np.searchsorted(curve.steps, steps)) + 1
    row["episodes"] = len(curve.steps)
    row["share of optimal, last 10 episodes"] = float(curve.mean[-10:].mean())
    return row


def similar_to_one_actor(ad: Curve, actor: Curve) -> dict[str, Any]:
    """The paper's "similar performance" read as: AD's share of optimal over the last 10 of as many
    episodes as an actor played is within :data:`SIMILAR` of the actor's over its last 10."""
    episodes = len(actor.mean)
    if len(ad.mean) < episodes:
        return finding(_similar_claim(ad), None, f"{ad.method} played {len(ad.mean)} episodes, an actor {episodes}")
    ad_late, actor_late = float(ad.mean[episodes - 10 : episodes].mean()), float(actor.mean[-10:].mean())
    return finding(
        _similar_claim(ad),
        ad_late >= actor_late - SIMILAR,
        f"episodes {episodes - 9}-{episodes}: AD {ad_late:.0%} of optimal, one actor {actor_late:.0%} "
        f"(within {SIMILAR:.0%} counts as similar)",
    )


def _similar_claim(ad: Curve) -> str:
    return f"{ad.method} is about as good as one actor of its source after as many episodes (Sec. 5)"


def record_name(args: argparse.Namespace) -> str:
    return f"source_pace_{env_slug(args.env)}" + (f"_{args.record_suffix}" if args.record_suffix else "")


def run(args: argparse.Namespace) -> dict[str, Any]:
    streams = stream_returns(args.histories)
    one, every = source_curves(streams, args.env)
    ads, random = ad_curves(args.ad, args.env)
    sources = [one] if every is None else [one, every]
    actors = len(streams.returns) // len(streams.metadata)
    findings = []
    for ad in ads:
        if actors == 1:  # the paper's single-stream claim: AD on its subsampled histories learns faster
            claim = (
                f"{ad.method} needs >= {SPEEDUP:.0f}x fewer env steps to reach 80% of optimal than its single-stream "
                "source (Fig. 6)"
            )
            findings.append(speedup_finding(claim, ad, one, 0.8, SPEEDUP, "80% of optimal"))
            continue
        if every is not None:
            claim = (
                f"{ad.method} needs >= {SPEEDUP:.0f}x fewer env steps to reach 80% of optimal than its distributed "
                "source, counted over all the source's actors (Fig. 4)"
            )
            findings.append(speedup_finding(claim, ad, every, 0.8, SPEEDUP, "80% of optimal"))
        findings.append(similar_to_one_actor(ad, one))
    kind = streams.metadata[0]["source"]["kind"]
    plot = plot_curves(
        [*ads, *sources],
        1.0,
        random,
        f"{args.env}: AD in context against its source ({actors} actors a run)",
        args.results / f"{record_name(args)}.png",
        xlabel="environment steps on a task (log scale)",
        xscale="log",
        ylabel="return per episode, share of optimal",
        legend_columns=2,
    )
    return {
        "title": f"AD against the {'single-stream' if actors == 1 else 'distributed'} source it distilled on "
        + args.env,
        "summary": (
            f"The source's {len(streams.returns)} streams ({len(streams.metadata)} {kind} runs of {actors} "
            f"actor{'s' if actors > 1 else ''}, "
            f"{len(one.steps)} whole episodes each, train tasks) against AD on held-out tasks; returns as "
            "shares of each task's optimal."
        ),
        "env_id": args.env,
        "seed": args.seed,
        "histories": str(args.histories),
        "ad_records": [str(path) for path in args.ad],
        "findings": findings,
        "tables": {"Env steps to a share of optimal": {c.method: pace_row(c) for c in [*ads, *sources]}},
        "optimal": 1.0,
        "random": random,
        "curves": [c.to_dict() for c in [*ads, *sources]],
        "plots": [plot.name],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=ENVS)
    parser.add_argument("--histories", type=Path, required=True, help="the dataset folder AD was distilled from")
    parser.add_argument("--ad", type=Path, nargs="+", required=True, help="records with AD's curves on --env")
    parser.add_argument("--seed", type=int, default=0, help="recorded; nothing here is random")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    parser.add_argument("--record-suffix", default="", help="appended to the record's name (another source's data)")
    args = parser.parse_args(argv)
    if not args.histories.is_dir():
        parser.error(f"--histories {args.histories} is not a folder")
    if missing := [str(p) for p in args.ad if not p.is_file()]:
        parser.error(f"no such record: {', '.join(missing)}")
    figures = run(args)
    for method, row in figures["tables"]["Env steps to a share of optimal"].items():
        print(method, row)
    for found in figures["findings"]:
        print(("REPRODUCED " if found["reproduced"] else "NOT REPRODUCED ") + found["claim"], "-", found["evidence"])
    print(f"wrote {write_result(record_name(args), figures, args.results)}")


if __name__ == "__main__":
    main()

"""pipeline.distill: training on views of the histories (subsampled, expert-only) as the baselines need."""

import dataclasses

import pytest

from ad_agent.pipeline import distill
from ad_agent.presets import get_preset
from tests.ad_agent.synthetic import write_learnable_histories


@pytest.mark.parametrize(
    ("views", "steps_kept"),
    [
        ({}, 4 * 60),
        ({"last_episodes": 1}, 4 * 20),
        ({"every_kth_episode": 2}, 4 * 40),
        ({"every_kth_episode": 3}, 4 * 20),
    ],
)
def test_distill_trains_on_the_asked_view_and_records_it(tmp_path, views, steps_kept):
    write_learnable_histories(tmp_path)  # 4 streams of 3 episodes x 20 steps
    base = get_preset("DarkRoom-v0")
    preset = dataclasses.replace(base, model={**base.model, "context_len": 10})
    policy, log = distill(preset, tmp_path, seed=0, steps=2, device="cpu", **views)
    provenance = policy.spec.provenance
    assert provenance["n_steps"] == steps_kept
    assert provenance["views"] == {"every_kth_episode": 1, "last_episodes": None, **views}
    assert len(log) >= 1

"""Every observation encoder feeds the Discrete action head, learns, and decodes exactly with a cache."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from ad_agent.model import ADTransformer, ModelConfig
from ad_agent.model.encoders import (
    DiscreteEncoder,
    ImageEncoder,
    VectorEncoder,
    distinct_rows,
    obs_config_from_space,
)

N_ACTIONS = 3
TINY = {"n_actions": N_ACTIONS, "d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "dropout": 0.0}
OBS_CONFIGS = {
    "discrete": {"obs_nvec": (6,)},
    "multidiscrete": {"obs_nvec": (6, 4)},
    "vector": {"obs_nvec": (), "obs_kind": "vector", "obs_shape": (5,)},
    "image": {"obs_nvec": (), "obs_kind": "image", "obs_shape": (16, 16, 3)},
}


def observations_and_actions(kind: str, batch: int, steps: int, g: torch.Generator):
    """Random observations of ``kind`` and the action each one determines."""
    actions = torch.randint(0, N_ACTIONS, (batch, steps), generator=g)
    if kind == "discrete":  # action = observation mod 3
        return (actions + N_ACTIONS * torch.randint(0, 2, (batch, steps), generator=g))[..., None], actions
    if kind == "multidiscrete":  # first component decides, second is noise
        return torch.stack([actions, torch.randint(0, 4, (batch, steps), generator=g)], dim=-1), actions
    if kind == "vector":  # the largest of the first three features decides
        obs = torch.randn(batch, steps, 5, generator=g)
        obs[..., :N_ACTIONS] += 3 * torch.nn.functional.one_hot(actions, N_ACTIONS)
        return obs, actions
    obs = torch.randint(0, 64, (batch, steps, 16, 16, 3), generator=g, dtype=torch.uint8)  # image: one bright channel
    bright = torch.nn.functional.one_hot(actions, 3).bool()[:, :, None, None, :].expand_as(obs)
    return obs.masked_fill(bright, 255), actions


def step_inputs(kind: str, batch: int, steps: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs, actions = observations_and_actions(kind, batch, steps, g)
    prev_actions = torch.cat([torch.full((batch, 1), N_ACTIONS), actions[:, :-1]], dim=1)
    inputs = {
        "observations": obs,
        "prev_actions": prev_actions,
        "prev_rewards": torch.randint(0, 2, (batch, steps), generator=g).float(),
        "episode_starts": torch.rand(batch, steps, generator=g) < 0.1,
    }
    return inputs, actions


@pytest.mark.parametrize("kind", list(OBS_CONFIGS))
def test_every_encoder_with_the_discrete_head_learns_a_tiny_dataset(kind):
    torch.manual_seed(0)
    model = ADTransformer(ModelConfig(**OBS_CONFIGS[kind], context_len=8, **TINY))
    inputs, actions = step_inputs(kind, batch=8, steps=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(**inputs).flatten(0, 1), actions.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses  # from ~ln 3 to well below


@pytest.mark.parametrize("kind", ["vector", "image"])
@pytest.mark.parametrize("chunk", [1, 5])
def test_cached_decoding_equals_full_recomputation_for_every_encoder(kind, chunk):
    model = ADTransformer(ModelConfig(**OBS_CONFIGS[kind], context_len=6, **{**TINY, "n_layers": 2})).eval()
    inputs, _ = step_inputs(kind, batch=2, steps=15, seed=1)
    with torch.no_grad():
        full = torch.softmax(model(**inputs), -1)
        cache = model.new_cache(batch_size=2)
        parts = [model(**{k: v[:, t : t + chunk] for k, v in inputs.items()}, cache=cache) for t in range(0, 15, chunk)]
    assert (torch.softmax(torch.cat(parts, dim=1), -1) - full).abs().max() <= 1e-5


def test_the_paper_watermaze_encoder_takes_55x55_rgb_pixels():
    config = ModelConfig(**obs_config_from_space(spaces.Box(0, 255, (55, 55, 3), np.uint8)), **TINY)
    model = ADTransformer(config).eval()
    assert isinstance(model.obs_embed, ImageEncoder) and config.obs_input_shape == (55, 55, 3)
    convs = [m for m in model.obs_embed.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(128, (5, 5), (2, 2))] * 3
    pixels = torch.randint(0, 256, (2, 3, 55, 55, 3), dtype=torch.uint8)
    assert model.obs_embed(pixels).shape == (2, 3, 32)


def test_repeated_images_are_encoded_once_with_the_features_each_would_get_alone():
    g = torch.Generator().manual_seed(0)
    views = torch.randint(0, 256, (5, 16, 16, 3), generator=g, dtype=torch.uint8)
    steps = views[torch.randint(0, 5, (4, 30), generator=g)]
    encoder = ImageEncoder((16, 16, 3), 8, dropout=0.0, channels=4).eval()
    with torch.no_grad():
        alone = torch.stack([encoder(step[None, None])[0, 0] for step in steps.reshape(-1, 16, 16, 3)])
        torch.testing.assert_close(encoder(steps).reshape(-1, 8), alone)
    first, inverse = distinct_rows(steps.reshape(120, -1))
    assert len(first) == 5
    torch.testing.assert_close(steps.reshape(120, -1)[first][inverse], steps.reshape(120, -1))


def test_distinct_rows_gives_way_when_rows_differ_only_off_the_hashed_pixels():
    rows = torch.zeros(6, 4096, dtype=torch.uint8)
    assert distinct_rows(rows[:1]) is None  # nothing to share
    first, inverse = distinct_rows(rows)
    assert len(first) == 1 and inverse.tolist() == [0] * 6
    hashed = torch.randperm(4096, generator=torch.Generator().manual_seed(4096))[:512]
    unhashed = next(c for c in range(4096) if c not in set(hashed.tolist()))
    rows[3, unhashed] = 1  # same hash as the others, different row: must not be merged
    assert distinct_rows(rows) is None
    assert distinct_rows(torch.arange(12, dtype=torch.uint8).reshape(4, 3)) is None  # all distinct


def test_image_channels_narrow_every_conv_block_and_are_saved_in_the_config():
    config = ModelConfig(**obs_config_from_space(spaces.Box(0, 255, (55, 55, 3), np.uint8)), **TINY, image_channels=8)
    model = ADTransformer(config).eval()
    convs = [m for m in model.obs_embed.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 8), (8, 8), (8, 8)]
    assert model.obs_embed.linear.in_features == 8
    assert ModelConfig.from_dict(config.to_dict()).image_channels == 8
    pixels = torch.randint(0, 256, (2, 3, 55, 55, 3), dtype=torch.uint8)
    assert model.obs_embed(pixels).shape == (2, 3, 32)


@pytest.mark.parametrize(
    ("space", "kind", "encoder"),
    [
        (spaces.Discrete(7), "discrete", DiscreteEncoder),
        (spaces.MultiDiscrete([9, 9]), "discrete", DiscreteEncoder),
        (spaces.Box(-1.0, 1.0, (4,)), "vector", VectorEncoder),
        (spaces.Box(0, 255, (12, 10, 3), np.uint8), "image", ImageEncoder),
    ],
)
def test_configs_from_spaces_round_trip_through_json_dicts(space, kind, encoder):
    config = ModelConfig(**obs_config_from_space(space), **TINY)
    assert config.obs_kind == kind and isinstance(ADTransformer(config).obs_embed, encoder)
    as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}
    assert ModelConfig.from_dict(as_json) == config


def test_configs_saved_before_obs_kind_still_mean_discrete_observations():
    old = {"obs_nvec": [9, 9], "n_actions": 5, "context_len": 200, "d_model": 64, "n_layers": 4}
    config = ModelConfig.from_dict(old)
    assert config.obs_kind == "discrete" and config.obs_nvec == (9, 9) and config.obs_input_shape == (2,)


def test_the_shipped_pretrained_darkroom_policy_still_loads():
    from ad_agent.deployment.policy import InContextPolicy

    policy = InContextPolicy.load("pretrained:DarkRoom-v0")
    assert 0 <= policy.act(np.array([0, 0])) < 5


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"obs_nvec": (9,), "obs_kind": "pixels"}, "obs_kind must be one of"),
        ({"obs_nvec": ()}, "obs_nvec must be positive"),
        ({"obs_nvec": (9,), "obs_shape": (3,)}, "obs_shape is for vector and image"),
        ({"obs_nvec": (9,), "obs_kind": "vector", "obs_shape": (3,)}, "obs_nvec is for discrete"),
        ({"obs_nvec": (), "obs_kind": "vector", "obs_shape": (3, 2)}, r"vector observations need obs_shape \(n,\)"),
        ({"obs_nvec": (), "obs_kind": "image", "obs_shape": (8, 8)}, r"obs_shape \(H, W, C\)"),
        ({"obs_nvec": (), "obs_kind": "image", "obs_shape": (8, 0, 3)}, "positive sizes"),
        ({"obs_nvec": (), "obs_kind": "image", "obs_shape": (8, 8, 3), "image_channels": 0}, "image_channels"),
    ],
)
def test_inconsistent_observation_configs_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(n_actions=3, **fields)


@pytest.mark.parametrize("space", [spaces.Box(0.0, 1.0, (4, 4, 3)), spaces.Box(0, 255, (4, 4), np.uint8)])
def test_spaces_without_an_encoder_are_refused(space):
    with pytest.raises(TypeError, match="no observation encoder"):
        obs_config_from_space(space)

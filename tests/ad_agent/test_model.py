"""The transformer is causal: no prediction ever depends on a later step."""

import pytest
import torch

from ad_agent.model import ADTransformer, ModelConfig


def random_inputs(batch: int, steps: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "observations": torch.randint(0, 9, (batch, steps, 2), generator=g),
        "prev_actions": torch.randint(0, 6, (batch, steps), generator=g),
        "prev_rewards": torch.randint(0, 2, (batch, steps), generator=g).float(),
        "episode_starts": torch.rand(batch, steps, generator=g) < 0.1,
    }


def test_changing_a_later_step_never_changes_an_earlier_prediction():
    model = ADTransformer(ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=32, dropout=0.0)).eval()
    inputs = random_inputs(2, 32)
    with torch.no_grad():
        base = model(**inputs)
        for t in (0, 7, 31):
            changed = {k: v.clone() for k, v in inputs.items()}
            changed["observations"][:, t:] = (changed["observations"][:, t:] + 3) % 9
            changed["prev_actions"][:, t:] = (changed["prev_actions"][:, t:] + 1) % 6
            changed["prev_rewards"][:, t:] += 1.0
            out = model(**changed)
            torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-6)
            assert not torch.allclose(out[:, t], base[:, t])  # the changed step itself is seen


def test_each_step_sees_exactly_the_last_context_len_steps():
    model = ADTransformer(ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=8, dropout=0.0, n_layers=1)).eval()
    inputs = random_inputs(1, 30)
    with torch.no_grad():
        base = model(**inputs)
        changed = {k: v.clone() for k, v in inputs.items()}
        changed["observations"][:, 10] = (changed["observations"][:, 10] + 1) % 9
        out = model(**changed)
    differs = (out - base).abs().amax(dim=(0, 2)) > 1e-6
    assert differs.nonzero().flatten().tolist() == list(range(10, 18))  # one layer: steps 10..17 see step 10


@pytest.mark.parametrize("chunk", [1, 5, 8, 13])
def test_cached_decoding_equals_full_recomputation_over_the_sliding_window(chunk):
    config = ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=8, dropout=0.0, n_layers=3)
    model = ADTransformer(config).eval()
    inputs = random_inputs(3, 40, seed=1)
    with torch.no_grad():
        full = torch.softmax(model(**inputs), -1)
        cache = model.new_cache(batch_size=3)
        parts = [model(**{k: v[:, t : t + chunk] for k, v in inputs.items()}, cache=cache) for t in range(0, 40, chunk)]
    cached = torch.softmax(torch.cat(parts, dim=1), -1)
    assert (cached - full).abs().max() <= 1e-5
    assert cache.next_position == 40 and sorted(cache.positions.tolist()) == list(range(32, 40))


def test_head_size_must_be_even_for_rotary_positions():
    with pytest.raises(ValueError, match="even size"):
        ModelConfig(obs_nvec=(9,), n_actions=5, d_model=12, n_heads=4)


@pytest.mark.parametrize("field", ["n_layers", "n_heads", "d_ff", "d_model"])
def test_a_transformer_without_layers_heads_or_width_is_refused_with_a_message(field):
    with pytest.raises(ValueError, match="a transformer needs n_layers, n_heads, d_ff and d_model >= 1"):
        ModelConfig(obs_nvec=(9,), n_actions=5, **{field: 0})

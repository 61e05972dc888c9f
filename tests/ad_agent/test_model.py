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


def test_window_longer_than_context_is_refused():
    model = ADTransformer(ModelConfig(obs_nvec=(9, 9), n_actions=5, context_len=8))
    with pytest.raises(ValueError, match="exceeds context_len 8"):
        model(**random_inputs(1, 9))

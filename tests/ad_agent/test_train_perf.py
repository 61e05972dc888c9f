"""Training-step speed options: mixed precision and torch.compile change speed, not what is learned."""

import os

import numpy as np
import pytest
import torch

from ad_agent.devices import deterministic_kernels, resolve_amp
from ad_agent.model import ModelConfig
from ad_agent.training.loop import TrainConfig, train

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
# No dropout, so that eager and compiled steps draw no random masks and can be compared.
MODEL = ModelConfig(
    obs_nvec=(9, 9), n_actions=5, context_len=16, d_model=32, n_layers=1, n_heads=2, d_ff=64, dropout=0.0
)


def test_amp_setting_is_checked():
    with pytest.raises(ValueError, match="amp must be one of"):
        TrainConfig(amp="fp8")


def test_deterministic_kernels_are_on_for_cuda_only_and_restored_after(monkeypatch):
    """CUDA training uses torch's deterministic kernels (one seed, one model: benchmarks/device_throughput)."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels(CPU):
        assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels(CUDA, enabled=False):
        assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels(CUDA):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled() is False
    assert not torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    with pytest.raises(RuntimeError, match="inside"), deterministic_kernels(CUDA):
        raise RuntimeError("inside")
    assert not torch.are_deterministic_algorithms_enabled()


def test_auto_amp_is_off_on_cpu_and_bf16_on_cuda_that_supports_it(monkeypatch):
    assert resolve_amp("auto", CPU) is None and resolve_amp("off", CPU) is None
    assert resolve_amp("bf16", CPU) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_amp("auto", CUDA) == torch.bfloat16 and resolve_amp("fp16", CUDA) == torch.float16
    assert resolve_amp("off", CUDA) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_amp("auto", CUDA) is None


def test_fp16_on_cpu_is_refused_before_training(tiny_data):
    with pytest.raises(ValueError, match="fp16.*needs a CUDA device"):
        train(tiny_data, MODEL, TrainConfig(steps=1, batch_size=4, amp="fp16", device="cpu"))


def test_auto_on_cpu_is_exactly_full_precision_and_bf16_differs_but_learns(tiny_data):
    config = TrainConfig(steps=120, batch_size=16, warmup_steps=10, peak_lr=3e-3, device="cpu")
    auto, auto_log = train(tiny_data, MODEL, config)
    off, _ = train(tiny_data, MODEL, TrainConfig(**{**config.to_dict(), "amp": "off"}))
    bf16, bf16_log = train(tiny_data, MODEL, TrainConfig(**{**config.to_dict(), "amp": "bf16"}))
    weights = auto.state_dict().items()
    assert all(torch.equal(tensor, off.state_dict()[name]) for name, tensor in weights)
    assert any(not torch.equal(tensor, bf16.state_dict()[name]) for name, tensor in weights)  # autocast ran
    first, last = np.mean([r["loss"] for r in bf16_log[:10]]), np.mean([r["loss"] for r in bf16_log[-10:]])
    assert last < 0.5 * first and last == pytest.approx(np.mean([r["loss"] for r in auto_log[-10:]]), rel=0.2)


@pytest.mark.slow
def test_compiled_training_follows_eager_and_resumes_exactly(tiny_data, tmp_path):
    config = TrainConfig(steps=6, batch_size=8, warmup_steps=2, peak_lr=3e-3, mask_prob=0.3, device="cpu")
    _, eager_log = train(tiny_data, MODEL, config)
    compiled = TrainConfig(**{**config.to_dict(), "compile": True, "checkpoint_every": 3})
    straight, straight_log = train(tiny_data, MODEL, compiled)
    np.testing.assert_allclose([r["loss"] for r in straight_log], [r["loss"] for r in eager_log], rtol=1e-4)

    def crash(record):
        if record["step"] == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, MODEL, compiled, crash, checkpoint_dir=tmp_path)
    resumed, _ = train(tiny_data, MODEL, compiled, checkpoint_dir=tmp_path, resume=True)
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name

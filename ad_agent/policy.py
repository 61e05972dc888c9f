"""InContextPolicy: a trained AD model behind a plain ``reset()`` / ``act(obs, reward)`` interface.

The policy keeps a rolling context of the last ``context_len`` steps of its own experience and
never changes its weights: whatever it learns about a new task, it learns in context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ad_agent.model import ADTransformer, ModelConfig
from ad_agent.train import resolve_device

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "policy.json"


@dataclass
class PolicySpec:
    """What a saved policy says about itself, besides its weights."""

    model: ModelConfig
    env_id: str
    max_episode_steps: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        import ad_agent

        return {
            "format_version": FORMAT_VERSION,
            "package_version": ad_agent.__version__,
            "model": self.model.to_dict(),
            "env_id": self.env_id,
            "max_episode_steps": self.max_episode_steps,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicySpec:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"policy format_version {version!r} is not supported (expected {FORMAT_VERSION})")
        try:
            return cls(
                model=ModelConfig.from_dict(data["model"]),
                env_id=data["env_id"],
                max_episode_steps=data.get("max_episode_steps"),
                provenance=data.get("provenance", {}),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"policy config is incomplete or malformed: {err!r}") from err


class InContextPolicy:
    """Drive a trained AD model in any Gymnasium loop.

    Contract of :meth:`act`: pass the observation to act on and the reward the *previous* action
    earned (ignored on the first call after :meth:`reset`). ``episode_start`` marks the first
    observation of an episode; when left ``None`` it is inferred: true on the first call after
    ``reset`` and every ``max_episode_steps`` steps for fixed-horizon envs such as Dark Room.
    The context carries over episode boundaries; only :meth:`reset` clears it (a new task).
    """

    def __init__(self, model: ADTransformer, spec: PolicySpec, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.spec = spec
        self._nvec = np.asarray(spec.model.obs_nvec)
        self.reset()

    @property
    def context_len(self) -> int:
        return self.spec.model.context_len

    def reset(self, batch_size: int = 1, seed: int | None = None) -> None:
        """Forget the context: ``batch_size`` new tasks begin. ``seed`` fixes action sampling."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self._generator = torch.Generator()
        self._generator.manual_seed(seed if seed is not None else int(torch.randint(2**31, (1,))))
        n_obs = len(self._nvec)
        self._obs = torch.zeros((batch_size, 0, n_obs), dtype=torch.long, device=self.device)
        self._prev_actions = torch.zeros((batch_size, 0), dtype=torch.long, device=self.device)
        self._prev_rewards = torch.zeros((batch_size, 0), dtype=torch.float32, device=self.device)
        self._starts = torch.zeros((batch_size, 0), dtype=torch.bool, device=self.device)
        self._last_actions = np.full(batch_size, self.spec.model.n_actions, dtype=np.int64)
        self._steps_in_episode = np.zeros(batch_size, dtype=np.int64)
        self._fresh = True

    def act(
        self,
        obs: Any,
        reward: Any = 0.0,
        *,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> int | np.ndarray:
        """Choose the next action(s); a single observation gives an int, a batch an array."""
        obs_arr, single = self._check_obs(obs)
        rewards = self._check_rewards(reward)
        starts = self._episode_starts(episode_start)
        if self._fresh:
            rewards[:] = 0.0
        self._append(obs_arr, rewards, starts)
        with torch.inference_mode():
            logits = self.model(self._obs, self._prev_actions, self._prev_rewards, self._starts)[:, -1]
        if deterministic:
            actions = logits.argmax(-1).cpu().numpy()
        else:
            probs = torch.softmax(logits.float(), -1).cpu()
            actions = torch.multinomial(probs, 1, generator=self._generator).squeeze(1).numpy()
        self._last_actions = actions.astype(np.int64)
        self._fresh = False
        return int(actions[0]) if single else actions

    def _append(self, obs: np.ndarray, rewards: np.ndarray, starts: np.ndarray) -> None:
        keep = self.context_len - 1

        def push(buffer: torch.Tensor, value: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            new = torch.as_tensor(value, dtype=dtype, device=self.device).unsqueeze(1)
            return torch.cat([buffer[:, -keep:] if keep else buffer[:, :0], new], dim=1)

        self._obs = push(self._obs, obs, torch.long)
        self._prev_actions = push(self._prev_actions, self._last_actions, torch.long)
        self._prev_rewards = push(self._prev_rewards, rewards, torch.float32)
        self._starts = push(self._starts, starts, torch.bool)

    def _episode_starts(self, episode_start: Any) -> np.ndarray:
        if episode_start is None:
            starts = np.full(self.batch_size, self._fresh)
            if self.spec.max_episode_steps:
                starts |= self._steps_in_episode >= self.spec.max_episode_steps
        else:
            starts = np.broadcast_to(np.asarray(episode_start, dtype=bool), (self.batch_size,)).copy()
            starts |= self._fresh
        self._steps_in_episode = np.where(starts, 1, self._steps_in_episode + 1)
        return starts

    def _check_obs(self, obs: Any) -> tuple[np.ndarray, bool]:
        arr = np.asarray(obs)
        n_obs = len(self._nvec)
        single = arr.shape == (n_obs,) or (n_obs == 1 and arr.ndim == 0)
        arr = arr.reshape(1, n_obs) if single else arr
        if arr.shape != (self.batch_size, n_obs):
            expected = f"({n_obs},)" if self.batch_size == 1 else f"({self.batch_size}, {n_obs})"
            raise ValueError(f"observation has shape {np.shape(obs)}, expected {expected}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"observation must hold integers, got {obs!r}")
            arr = arr.astype(np.int64)
        if (arr < 0).any() or (arr >= self._nvec).any():
            raise ValueError(f"observation {obs!r} is outside the observation space (sizes {self._nvec.tolist()})")
        return arr, single

    def _check_rewards(self, reward: Any) -> np.ndarray:
        arr = np.asarray(reward, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(self.batch_size, float(arr))
        if arr.shape != (self.batch_size,):
            raise ValueError(f"reward has shape {arr.shape}, expected a scalar or ({self.batch_size},)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"reward must be finite, got {reward!r}")
        return arr.astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Write ``path/model.safetensors`` and ``path/policy.json`` (no pickle anywhere)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE))
        (path / CONFIG_FILE).write_text(json.dumps(self.spec.to_dict(), indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> InContextPolicy:
        """Restore a policy saved by :meth:`save`; refuses anything that is not exactly that."""
        path = Path(path)
        config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
        for required in (config_path, weights_path):
            if not required.is_file():
                raise FileNotFoundError(f"not a saved policy: {required} is missing")
        try:
            spec = PolicySpec.from_dict(json.loads(config_path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config_path} is not valid JSON: {err}") from err
        try:
            state = load_file(str(weights_path))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{weights_path} is not a valid safetensors file: {err}") from err
        model = ADTransformer(spec.model)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(f"{weights_path} does not match the model in {config_path}: {err}") from err
        return cls(model, spec, device=device)

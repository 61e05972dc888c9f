"""Model configuration as a dataclass, saved with every checkpoint and policy file."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from ad_agent.actions import ActionCoding
from ad_agent.model.heads import make_head

OBS_KINDS = ("discrete", "vector", "image")
ARCHS = ("transformer", "lstm")
_OBS_RANKS = {"vector": 1, "image": 3}
#: The fields of :class:`ModelConfig` that come from the env's spaces rather than from a preset.
SPACE_FIELDS = ("obs_nvec", "n_actions", "obs_kind", "obs_shape", "action_low", "action_high")


@dataclass
class ModelConfig:
    """Shape of the AD sequence model.

    ``n_actions`` is the size of a Discrete action space. A continuous (Box) action space has
    ``n_actions == 0`` and its bounds in ``action_low`` / ``action_high``; each of its dimensions is
    read as one of ``action_bins`` evenly spaced values (:mod:`ad_agent.actions`) and predicted by the
    ``action_head``: a categorical over those bins, or a squashed Gaussian (:mod:`ad_agent.model.heads`).
    Configs saved before there were Box actions have no bounds, so they are Discrete.

    ``obs_kind`` picks the observation encoder: ``"discrete"`` for a (Multi)Discrete observation
    whose component sizes are ``obs_nvec``; ``"vector"`` for a 1-D Box of ``obs_shape == (n,)``;
    ``"image"`` for uint8 pixels of ``obs_shape == (H, W, C)``. ``obs_nvec`` describes only
    discrete observations and ``obs_shape`` only the others, so configs saved before there were
    other kinds (no ``obs_kind``) still mean what they meant. ``n_actions`` is the size of the
    Discrete action space. Defaults are the ``fast`` preset for 2 CPU cores: the
    paper's depth and heads (Table 1) with a wider embedding and a narrower feed-forward.

    ``arch`` picks the sequence model between the step embedding and the action head:
    ``"transformer"`` (:mod:`ad_agent.model.transformer`) or ``"lstm"`` (the paper's App. K
    variant, :mod:`ad_agent.model.lstm`). The LSTM reads ``n_layers`` as its number of recurrent
    layers, ``lstm_hidden`` as their size and ``d_ff`` as the width of its MLP torso; ``n_heads``
    and ``attn_dropout`` mean nothing to it, and ``lstm_hidden`` nothing to the transformer.
    ``context_len`` is the training window for both; at deployment it is the transformer's
    attention window, while the LSTM carries its state over the whole trial.
    Configs saved before there was an ``arch`` are transformers.

    ``image_channels`` is the width of every conv block of the image encoder: Table 3's 128 by
    default; fewer make a pixel model affordable on a CPU (the blocks' cost falls about with the
    square of the width). It means nothing to the other observation kinds.
    """

    obs_nvec: tuple[int, ...]
    n_actions: int
    obs_kind: str = "discrete"
    obs_shape: tuple[int, ...] = ()
    context_len: int = 200
    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 256
    dropout: float = 0.1
    # Off by default: any attention dropout sends SDPA to its unfused path, ~3x slower on CPU.
    attn_dropout: float = 0.0
    arch: str = "transformer"
    lstm_hidden: int = 256
    image_channels: int = 128
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    action_bins: int = 21
    action_head: str = "categorical"

    def __post_init__(self) -> None:
        self.obs_nvec = tuple(int(n) for n in self.obs_nvec)
        self.obs_shape = tuple(int(n) for n in self.obs_shape)
        self.action_low = tuple(float(v) for v in self.action_low)
        self.action_high = tuple(float(v) for v in self.action_high)
        self._check_observation()
        if self.context_len < 1 or self.image_channels < 1:
            raise ValueError("context_len and image_channels must be >= 1")
        if (self.n_actions < 1) == (not self.action_low):
            raise ValueError(
                f"give a Discrete space's n_actions >= 1, or a Box space's bounds with n_actions 0; got n_actions "
                f"{self.n_actions} and bounds {self.action_low}, {self.action_high}"
            )
        make_head(self.action_head, self.action_coding)  # checks the bounds, the bins and the head's kind
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "lstm":
            if min(self.n_layers, self.lstm_hidden, self.d_ff, self.d_model) < 1:
                raise ValueError("an lstm needs n_layers, lstm_hidden, d_ff and d_model >= 1")
        elif min(self.n_layers, self.n_heads, self.d_ff, self.d_model) < 1:
            raise ValueError("a transformer needs n_layers, n_heads, d_ff and d_model >= 1")
        elif self.d_model % (2 * self.n_heads):
            raise ValueError(
                f"d_model {self.d_model} must split into n_heads {self.n_heads} heads of even size (rotary positions)"
            )

    def _check_observation(self) -> None:
        if self.obs_kind not in OBS_KINDS:
            raise ValueError(f"obs_kind must be one of {OBS_KINDS}, got {self.obs_kind!r}")
        if self.obs_kind == "discrete":
            if not self.obs_nvec or min(self.obs_nvec) < 1:
                raise ValueError(f"obs_nvec must be positive sizes, got {self.obs_nvec}")
            if self.obs_shape:
                raise ValueError("obs_shape is for vector and image observations; discrete ones use obs_nvec")
            return
        if self.obs_nvec:
            raise ValueError(f"obs_nvec is for discrete observations only, not {self.obs_kind!r} ones")
        rank = _OBS_RANKS[self.obs_kind]
        if len(self.obs_shape) != rank or min(self.obs_shape) < 1:
            layout = "(n,)" if rank == 1 else "(H, W, C)"
            raise ValueError(
                f"{self.obs_kind} observations need obs_shape {layout} of positive sizes, got {self.obs_shape}"
            )

    @property
    def action_coding(self) -> ActionCoding:
        """How this model's actions become classes: the Discrete space's, or the Box space's bins."""
        if self.action_low:
            return ActionCoding(self.action_bins, self.action_low, self.action_high)
        return ActionCoding(self.n_actions)

    @property
    def obs_input_shape(self) -> tuple[int, ...]:
        """Shape of one step's observation as the model takes it: ``(n_components,)`` or ``obs_shape``."""
        return (len(self.obs_nvec),) if self.obs_kind == "discrete" else self.obs_shape

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class ModelShape:
    """The env-independent part of a :class:`ModelConfig`, as presets and config files write it.

    A field left ``None`` takes :class:`ModelConfig`'s default, so the defaults are written once (there)
    and a preset records only its own choices; the spaces (:data:`SPACE_FIELDS`) come from the env
    (:func:`ad_agent.presets.model_config_for`). Change a shape with :func:`dataclasses.replace`.
    """

    context_len: int | None = None
    d_model: int | None = None
    n_layers: int | None = None
    n_heads: int | None = None
    d_ff: int | None = None
    dropout: float | None = None
    attn_dropout: float | None = None
    arch: str | None = None
    lstm_hidden: int | None = None
    image_channels: int | None = None
    action_bins: int | None = None
    action_head: str | None = None

    def choices(self) -> dict[str, Any]:
        """The fields this shape sets: the keyword arguments it gives :class:`ModelConfig`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def resolved(self) -> dict[str, Any]:
        """Every field's value in the config this shape builds (its own, else :class:`ModelConfig`'s
        default): what a record or cache key should hold, so a changed default is not mistaken for
        the same model."""
        defaults = {f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING}
        return {name: own if (own := getattr(self, name)) is not None else defaults[name] for name in _names(self)}

    def value(self, name: str) -> Any:
        """``name``'s value in the config this shape builds."""
        return self.resolved()[name]

    def updated(self, changes: dict[str, Any]) -> ModelShape:
        """This shape with ``changes`` (e.g. a config file's ``model`` section) on top; unknown names refused."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; a model shape has {_names(ModelShape)}")
        return ModelShape(**{**self.choices(), **changes})


def _names(cls: Any) -> list[str]:
    return [f.name for f in fields(cls)]

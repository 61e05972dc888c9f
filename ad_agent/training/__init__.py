"""Distillation, the stage between the histories and the policy: the training loop (:mod:`.loop`),
its bit-exact checkpoints (:mod:`.checkpoint`) and data-parallel training under ``torchrun``
(:mod:`.distributed`)."""

from ad_agent.training.loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]

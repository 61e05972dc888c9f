"""Deployment, the stage after training: the in-context policy (:mod:`.policy`), its file on disk
(:mod:`.policy_file`), the paper's evaluation protocol (:mod:`.evaluation`) and where a policy
attends in its own history (:mod:`.attention`). Nothing here imports the training stack."""

from ad_agent.deployment.evaluation import evaluate
from ad_agent.deployment.policy import InContextPolicy
from ad_agent.deployment.policy_file import PolicySpec

__all__ = ["InContextPolicy", "PolicySpec", "evaluate"]

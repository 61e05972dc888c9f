"""What AD is compared with on held-out tasks (paper Fig. 4), besides Expert Distillation.

Expert Distillation is AD's own pipeline on the last episodes of each history
(``pipeline.distill(..., last_episodes=N)``), and the random and optimal returns come from each
env (:meth:`envs.TaskEnv.random_return` / :meth:`~envs.TaskEnv.optimal_return`), so neither needs
code here. This package holds the two learners that are not AD: the source algorithm run from
scratch on each held-out task as a single stream, and RL^2.
"""

from ad_agent.baselines.rl2 import RL2Config, evaluate_rl2, train_rl2, trial_vec_env
from ad_agent.baselines.scratch import learn_from_scratch
from ad_agent.baselines.trial import TrialWrapper
from ad_agent.sources.sb3 import single_stream  # the yardstick's learner, also a source of its own

__all__ = [
    "RL2Config",
    "TrialWrapper",
    "evaluate_rl2",
    "learn_from_scratch",
    "single_stream",
    "train_rl2",
    "trial_vec_env",
]

"""Batched source learners: thousands of independent SB3-style PPO/A2C learners in one process.

See :mod:`ad_agent.sources.batched.learners` for how, and why it is still "SB3's PPO, many at once".
"""

from ad_agent.sources.batched.learners import (
    BatchedSourceConfig,
    batch_bytes,
    check_batch_fits,
    check_env_fits,
    run_batched,
)

__all__ = ["BatchedSourceConfig", "batch_bytes", "check_batch_fits", "check_env_fits", "run_batched"]

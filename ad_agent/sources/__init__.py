"""Learners that produce learning histories."""

from ad_agent.sources.sb3 import ALGORITHMS, DARKROOM_PPO, HistoryRecorder, SourceConfig, run_source

__all__ = ["ALGORITHMS", "DARKROOM_PPO", "HistoryRecorder", "SourceConfig", "run_source"]

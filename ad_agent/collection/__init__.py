"""Collection, the stage between the source learners and the histories: (task, seed) jobs, or
batches of them, run on local processes or Ray, resumable, each writing one run file
(:mod:`.runner`); :mod:`.processes` makes workers die with their parent."""

from ad_agent.collection.runner import collect, make_jobs, plan_collection, scripted_source, source_for, split_jobs

__all__ = ["collect", "make_jobs", "plan_collection", "scripted_source", "source_for", "split_jobs"]

"""The latency benchmark's thread-contention rows run, and leave no busy process behind."""

import os

from benchmarks.policy_latency import contention


def test_contention_rows_measure_both_thread_choices_as_is_and_under_load():
    figures = contention(seed=0, calls=2, context_len=8, warmup_s=0.1)
    cores = os.cpu_count()
    for case in ("as_is", "busy"):
        for label in ("default (1 thread)", f"{cores} threads"):
            assert figures[case][label] > 0 and figures[case][f"{label}, paced"] > 0
        assert figures[case]["load_average_1min"] >= 0

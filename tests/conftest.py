"""Settings for the whole suite."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The suite's nets are tiny: threads gain nothing, and on a busy 2-core machine spinning ones
    cost seconds a test. Library code and benchmarks keep torch's default."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

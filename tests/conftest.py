"""Settings for the whole suite."""

import tempfile

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def temp_folder_inside_pytests(tmp_path_factory):
    """What the tests' own SB3 models write to the system temp folder (the default logger's empty
    ``SB3-<date>`` folders) stays in pytest's temporary folder, which pytest cleans up."""
    patch = pytest.MonkeyPatch()
    patch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("system-temp")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The suite's nets are tiny: threads gain nothing, and on a busy 2-core machine spinning ones
    cost seconds a test. Library code and benchmarks keep torch's default."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

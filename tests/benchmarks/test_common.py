"""What a benchmark record says about the machine it was measured on."""

from benchmarks import common


def test_the_cpu_model_is_the_first_model_name_and_none_without_cpuinfo(tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t: fpu\nmodel name\t: other\n")
    assert common.cpu_model(cpuinfo) == "AMD EPYC 9R14"
    cpuinfo.write_text("processor\t: 0\n")
    assert common.cpu_model(cpuinfo) is None
    assert common.cpu_model(tmp_path / "absent") is None


def test_records_name_the_cpu_and_the_vector_instructions_torch_uses() -> None:
    info = common.machine()
    assert info["torch_cpu_capability"] in {"DEFAULT", "VSX", "Z VECTOR", "NO AVX", "AVX2", "AVX512", "SVE256"}
    assert info["cpu_model"] is None or info["cpu_model"]

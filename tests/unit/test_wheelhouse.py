import pytest

from launcher.build import wheelhouse
from launcher.errors import UsageError
from launcher.spec.model import load_spec


def test_platform_tags_follow_glibc():
    base = load_spec().base("cpu")
    tags = wheelhouse.pip_platforms(base)
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux_2_37_x86_64" not in tags and "manylinux2014_x86_64" in tags


def test_requirements_are_harness_plus_framework():
    reqs = wheelhouse.requirements(load_spec(), "onnxruntime", "cpu")
    assert "mlcommons-loadgen==6.0.17" in reqs and any(r.startswith("onnxruntime==") for r in reqs)


def test_offline_without_cache_fails_naming_fetch(tmp_path):
    with pytest.raises(UsageError, match=r"not in the cache .*mlperf-docker fetch --variation _onnxruntime,_cpu"):
        wheelhouse.ensure(load_spec(), "onnxruntime", "cpu", tmp_path, [], offline=True)

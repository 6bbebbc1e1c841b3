"""TEST06 (LLM output consistency) and the llama2 interactive variant on the llama2 stand-in: a real
harness run (LoadGen Server under the llama2-70b-interactive key, the reference's TEST06 audit.config,
first tokens streamed through lg.FirstTokenComplete) whose verification passes, the same log altered
(a first token other than the streamed one, an n_tokens mismatch, a doubled end-of-sequence) failing,
and the models TEST06 applies to."""

import json

import numpy as np
import pytest

from harness_test_support import standin_args
from mlperf_harness import compliance
from mlperf_harness.errors import UsageError
from mlperf_harness.llm import test06
from mlperf_harness.models import get_model


@pytest.fixture(scope="module")
def llama2_standin(tmp_path_factory):
    pytest.importorskip("transformers")
    from mlperf_harness.models.llama2_70b.standin import generate

    out = tmp_path_factory.mktemp("llama2")
    info = generate(out, n_samples=4)
    info["models"] = {"pytorch": info["model_path"]}
    return info


def _hex(tokens):
    return np.asarray(tokens, np.int32).tobytes().hex().upper()


def test_test06_run_passes_then_altered_logs_fail(llama2_standin, tmp_path, monkeypatch, capsys):
    """The audit test as the runner runs it (one LoadGen child in TEST06/ with its audit.config)."""
    from mlperf_harness import loadgen_settings, results, runner
    from mlperf_harness.contract import BenchmarkSettings
    from mlperf_harness.plan import RunPlan

    monkeypatch.setenv("USE_TF", "0")  # the child's transformers need not import the host's TensorFlow
    model = get_model("llama2-70b-interactive-99")
    plan = RunPlan.from_settings(BenchmarkSettings.from_argv(standin_args(
        model.name, llama2_standin, "pytorch", tmp_path / "out", "--scenario", "Server", "--mode", "performance",
        "--compliance", "TEST06")), {})
    dataset = model.open_dataset(plan.dataset_path, None, model_path=plan.model_path)
    server = results.scenario_dir(plan.output_dir, plan.system, model.name, "Server")
    server.mkdir(parents=True)
    (server / "user.conf").write_text(loadgen_settings.user_conf_text(
        model.loadgen_key, "Server", "test", len(dataset), model.perf_sample_count, 4, target_qps=20))
    runner._run_audit(plan, model, dataset, "Server", "TEST06", server / "TEST06", len(dataset), len(dataset))
    assert "Server TEST06 accuracy: TEST PASS (4 responses checked)" in capsys.readouterr().out
    # LoadGen's own interactive limits (its mlperf.conf), not typed by us
    summary = (server / "TEST06" / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
    assert "ttft_latency (ns): 450000000" in summary and "tpot_latency (ns): 40000000" in summary
    folder = server / "TEST06"
    assert (folder / "audit.config").read_text().splitlines()[-len(test06.AUDIT_LINES):] == list(test06.AUDIT_LINES)
    assert (folder / "verify_accuracy.txt").read_text().splitlines()[:3] == [
        "First token check pass: True", "EOS check pass: True", "Sample length check pass: True"]
    log = folder / "accuracy" / "mlperf_log_accuracy.json"
    entries = json.loads(log.read_text())
    assert len(entries) == 4 and all({"token_data", "token_count"} <= set(e) for e in entries)
    assert test06.verify(log, "Server", "int32").passed

    def altered(change):
        copy = [dict(e) for e in entries]
        change(copy[1])
        path = tmp_path / "altered.json"
        path.write_text(json.dumps(copy))
        return test06.verify(path, "Server", "int32", test06.eos_token_id(llama2_standin["model_path"]))

    first = altered(lambda e: e.update(token_data=_hex([7])))
    assert (first.first_token, first.eos, first.length, first.passed) == (False, True, True, False)
    assert "first_token: qsl_idx" in first.text() and first.text().endswith("TEST06 verification failed\n")
    length = altered(lambda e: e.update(token_count=e["token_count"] + 1))
    assert (length.first_token, length.length, length.passed) == (True, False, False)
    eos = altered(lambda e: e.update(data=e["data"] + _hex([2])))  # the answer already ends with EOS
    assert (eos.eos, eos.passed) == (False, False) and "2 end-of-sequence tokens" in eos.text()


def test_test06_offline_skips_the_first_token_and_missing_fields_fail(tmp_path):
    log = tmp_path / "log.json"
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 1, "data": _hex([5, 6, 2]), "token_count": 3}]))
    offline = test06.verify(log, "Offline", "int32")
    assert offline.passed and offline.text().startswith("First token check pass: Skipped\n")
    server = test06.verify(log, "Server", "int32")  # Server needs the streamed first token
    assert server.first_token is False and not server.passed
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 1, "data": _hex([5, 6, 2])}]))
    assert test06.verify(log, "Offline", "int32").length is False  # no token_count logged
    log.write_text("[]")
    assert not test06.verify(log, "Offline", "int32").passed


def test_test06_applies_to_llama2_only():
    for name in ("llama2-70b-99", "llama2-70b-99.9", "llama2-70b-interactive-99"):
        compliance.check_tests(["TEST06"], name, get_model(name).loadgen_key)
    with pytest.raises(UsageError, match="infers gptj's token latencies"):
        compliance.check_tests(["TEST06"], "gptj-99", "gptj")
    with pytest.raises(UsageError, match="no TEST01 for llama2-70b-99"):
        compliance.check_tests(["TEST01"], "llama2-70b-99", "llama2-70b")
    interactive = get_model("llama2-70b-interactive-99.9")
    assert interactive.loadgen_key == "llama2-70b-interactive"
    assert interactive.code is get_model("llama2-70b-99.9").code  # the same rules, checkpoint and dataset

"""One LoadGen test of a generative model (what loadgen_child runs for a model with ``CODE.llm``):
the checkpoint folder loaded once, the dataset's prompts as token ids in the QSL, the
token-streaming SUT."""

from __future__ import annotations

from pathlib import Path

from mlperf_harness import loadgen_settings, results
from mlperf_harness.errors import HarnessError
from mlperf_harness.llm.generation import CausalLM
from mlperf_harness.llm.sut import TokenSUT
from mlperf_harness.qsl import SampleLibrary


def run_test(spec, model, guarded) -> None:
    rules = model.code.load("llm")
    if spec.scenario not in (model.scenarios or (spec.scenario,)):
        raise HarnessError(f"{model.name} runs {', '.join(model.scenarios)} only (as the reference)")
    beams = spec.extra.get("beam_size")
    if beams and not rules.beam_setting:
        raise HarnessError(f"{model.name} decodes greedily (the reference's rule); _beam_size does not apply")
    llm = CausalLM(spec.model_path, rules, device=spec.device, precision=spec.precision,
                   threads=spec.threads, beams=beams)
    print(f"backend for {spec.scenario} {spec.mode}: {llm.describe()}", flush=True)
    dataset = model.open_dataset(spec.dataset_path, spec.total_count, model_path=spec.model_path,
                                 **dict(spec.dataset_args))
    max_batch = spec.max_batchsize if rules.pad_to else 1
    if spec.scenario == "Offline" and max_batch != spec.max_batchsize:
        print(f"{model.name}: one sample per generate call (the reference's rule)", flush=True)
    settings = loadgen_settings.build_test_settings(model.loadgen_key, spec.scenario, spec.mode, spec.user_conf)
    log_settings = loadgen_settings.build_log_settings(spec.test_dir)
    qsl = SampleLibrary(dataset, spec.perf_count)
    qsl.load_samples = guarded(qsl.load_samples, "loading samples failed")
    sut = TokenSUT(spec.scenario, llm.generate, qsl, model.response_dtype, max_batchsize=max_batch,
                   stream_first_token=rules.stream_first_token)
    from mlperf_harness.loadgen_child import start_test

    start_test(spec, sut, qsl, settings, log_settings)
    results.remove_empty_trace(Path(spec.test_dir))

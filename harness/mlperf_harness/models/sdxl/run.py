"""One LoadGen test of sdxl (what loadgen_child runs for it): the pipeline loaded once, the latent
set once, the captions' token ids in the QSL, the harness's system under test (SingleStream inline;
Offline and Server through its worker, batches of up to --max_batchsize), each response one uint8
HWC image, as the reference's PostProcessCoco hands it to LoadGen."""

from __future__ import annotations

from pathlib import Path

from mlperf_harness import loadgen_settings, results
from mlperf_harness.qsl import SampleLibrary
from mlperf_harness.sut import SystemUnderTest, server_batch_timeout_s


def run_test(spec, model, guarded) -> None:
    from mlperf_harness.loadgen_child import start_test
    from mlperf_harness.models.sdxl.pipeline import SDXLPipeline

    pipeline = SDXLPipeline(spec.model_path, device=spec.device, precision=spec.precision, threads=spec.threads)
    print(f"backend for {spec.scenario} {spec.mode}: {pipeline.describe()}", flush=True)
    dataset = model.open_dataset(spec.dataset_path, spec.total_count, model_path=spec.model_path,
                                 **dict(spec.dataset_args))
    pipeline.set_latents(dataset.latents())
    settings = loadgen_settings.build_test_settings(model.loadgen_key, spec.scenario, spec.mode, spec.user_conf)
    log_settings = loadgen_settings.build_log_settings(spec.test_dir)
    qsl = SampleLibrary(dataset, spec.perf_count, loader_threads=1)
    qsl.load_samples = guarded(qsl.load_samples, "loading samples failed")
    sut = SystemUnderTest(spec.scenario, pipeline, qsl, postprocess=lambda images: images,
                          max_batchsize=1 if spec.scenario == "SingleStream" else spec.max_batchsize, workers=1,
                          batch_timeout_s=server_batch_timeout_s(settings.server_target_latency_ns,
                                                                 spec.extra.get("batch_timeout_ms")),
                          infer=lambda pipe, batch: pipe.generate(batch))
    start_test(spec, sut, qsl, settings, log_settings)
    results.remove_empty_trace(Path(spec.test_dir))

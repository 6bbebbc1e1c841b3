"""In-container MLPerf inference harness (LoadGen + a framework backend).

Runs inside the benchmark image, which provides only python3, numpy, pillow,
pyyaml, mlcommons-loadgen and the framework; import nothing else.

    python -m mlperf_harness --help

Modules, one job each:
    contract          the launcher <-> harness contract (stdlib only): every benchmark
                      setting (BenchmarkSettings: to_argv / from_argv / validate), in-image
                      paths, results tree; loadgen_logs: the one LoadGen log reader
    cli               arguments (contract) -> RunPlan; exit codes
    plan              RunPlan / TestSpec
    runner            checks, results folders, one child process per test, report lines
    loadgen_child     the child: one LoadGen test (python -m mlperf_harness.loadgen_child)
    loadgen_settings  user.conf text, TestSettings and LogSettings
    sut / workers     the system under test and its worker pool (Server: never blocks LoadGen)
    qsl               query sample library (preprocessed samples in RAM)
    models/           the model table: data facts read from images.yaml, code facts from
                      one folder per model family (models/resnet50/, models/bert/: dataset,
                      pre/post-processing, accuracy script, --dataset_args, stand-in
                      generators -- host only)
    backends/         framework backends by name on one base class (onnxruntime, pytorch,
                      tf, tflite)
    results, report   writing the results tree; summary -> one-line result
    standin_cli       the command line the stand-in generators share (host only)
    errors            HarnessError and the abort path for callbacks
"""

__version__ = "0.1.0"

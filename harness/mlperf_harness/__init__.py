"""In-container MLPerf inference harness (LoadGen + a framework backend).

Runs inside the benchmark image, which provides only python3, numpy, pillow,
mlcommons-loadgen and the framework; import nothing else.

    python -m mlperf_harness --help

Modules, one job each:
    cli               arguments -> RunPlan; exit codes
    plan              RunPlan / TestSpec, scenario and mode names
    runner            checks, results folders, one child process per test, report lines
    single_test       the child: one LoadGen test (python -m mlperf_harness.single_test)
    loadgen_settings  user.conf text, TestSettings and LogSettings
    sut / workers     the system under test and its worker pool (Server: never blocks LoadGen)
    qsl               query sample library (preprocessed samples in RAM)
    models            model table: LoadGen key, sample counts, I/O names, postprocess
    datasets/         dataset readers and preprocessing (imagenet; squad + wordpiece for bert);
                      --dataset-args options per dataset
    backends/         framework backends by name (onnxruntime, pytorch, tf, tflite)
    accuracy/         accuracy scripts (imagenet top-1, squad F1/EM; also python -m)
    results, report   results tree layout; summary -> one-line result
    errors            HarnessError and the abort path for callbacks
"""

__version__ = "0.1.0"

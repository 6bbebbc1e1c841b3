"""What a report shows, read from complete run folders: per scenario the headline metric,
the latency percentiles from LoadGen's detail log, accuracy against the model's target,
the audit tests' verdicts; per run the system and image identity; for two runs the B/A
ratios. Plain data (JSON-ready); nothing is written here."""

from __future__ import annotations

import re
from pathlib import Path

from mlperf_harness.contract import ACCURACY_TXT, DETAIL, SUMMARY, detail_values, read_accuracy
from mlperf_harness.contract import read_summary

from launcher.submission.generate import image_parts
from launcher.submission.runs import RunFolder, load_runs

PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")
THROUGHPUT = ("Offline", "Server")
_TARGET = re.compile(r">=\s*([\d.]+)")


def _targets(spec_path: Path | None) -> dict[str, float]:
    """model -> accuracy target (the first '>= N' of images.yaml's accuracy_target text)."""
    import yaml

    from launcher.submission.generate import REPO

    path = spec_path or REPO / "images.yaml"
    try:
        models = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("models", {})
    except (OSError, yaml.YAMLError):
        return {}
    targets = {}
    for name, entry in (models or {}).items():
        match = _TARGET.search(str((entry or {}).get("accuracy_target", "")))
        if match:
            targets[name] = float(match.group(1))
    return targets


def _latencies(values: dict) -> dict:
    out = {}
    for key, label in (("result_min_latency_ns", "min"), ("result_mean_latency_ns", "mean"),
                       ("result_max_latency_ns", "max")):
        if isinstance(values.get(key), (int, float)):
            out[label] = values[key] / 1e6
    for pct in PERCENTILES:
        value = values.get(f"result_{pct}_percentile_latency_ns")
        if isinstance(value, (int, float)):
            out[f"p{float(pct):g}"] = value / 1e6
    return out


def _audit(path: Path) -> dict:
    verdicts = {}
    for name in ("verify_accuracy.txt", "verify_performance.txt"):
        file = path / name
        if file.is_file():
            verdicts[name.split("_")[1].split(".")[0]] = \
                "PASS" if "TEST PASS" in file.read_text(errors="replace") else "FAIL"
    return verdicts


def scenario_data(result, targets: dict) -> dict:
    summary = read_summary(result.performance / SUMMARY)
    values = detail_values(result.performance / DETAIL)
    accuracy = read_accuracy(result.accuracy / ACCURACY_TXT)
    throughput = summary.samples_per_second if result.scenario in THROUGHPUT else None
    data = {
        "system": result.system, "model": result.model, "scenario": result.scenario,
        "validity": summary.validity, "throughput": throughput,
        "latency_percentile": summary.latency_percentile, "latency_ms": summary.latency_ms,
        "latencies_ms": _latencies(values), "queries": values.get("result_query_count"),
        "accuracy": accuracy, "accuracy_target": targets.get(result.model),
        "audits": {test: _audit(result.path / test) for test in result.audits},
    }
    if result.scenario in THROUGHPUT:
        data["metric"], data["unit"], data["higher_is_better"] = throughput, "samples/s", True
    else:
        data["metric"], data["unit"], data["higher_is_better"] = summary.latency_ms, "ms", False
    return data


def run_data(run: RunFolder, targets: dict) -> dict:
    framework, device = image_parts(run.image)
    return {
        "path": str(run.path), "name": run.path.name, "image": run.image,
        "image_digest": run.record.get("image_digest") or run.record.get("image_id"),
        "variation": run.record.get("variation"), "framework": framework, "device": device,
        "standin": run.standin, "loadgen_version": run.loadgen_version(),
        "systems": sorted({r.system for r in run.results}),
        "scenarios": [scenario_data(r, targets) for r in run.results],
    }


def comparison(a: dict, b: dict) -> list[dict]:
    """B relative to A per (model, scenario) both have: ratio of the metric, and speedup
    (> 1: B is better, whichever direction the metric counts)."""
    rows = []
    by_key = {(s["model"], s["scenario"]): s for s in a["scenarios"]}
    for sb in b["scenarios"]:
        sa = by_key.get((sb["model"], sb["scenario"]))
        if not sa or not sa.get("metric") or not sb.get("metric"):
            continue
        ratio = sb["metric"] / sa["metric"]
        rows.append({"model": sb["model"], "scenario": sb["scenario"], "unit": sb["unit"],
                     "a": sa["metric"], "b": sb["metric"], "ratio": ratio,
                     "speedup": ratio if sb["higher_is_better"] else 1 / ratio})
    return rows


def collect(paths, spec_path: Path | None = None) -> dict:
    runs = load_runs(paths, need_accuracy=False) if len(paths) < 2 else \
        [load_runs([p], need_accuracy=False)[0] for p in paths]
    targets = _targets(spec_path)
    data = {"runs": [run_data(run, targets) for run in runs]}
    if len(runs) == 2:
        data["comparison"] = comparison(data["runs"][0], data["runs"][1])
    return data

"""`mlperf-docker submission generate`: complete run folders -> an MLPerf submission tree.

    <output>/<division>/<submitter>/
        results/<system>/<model>/<Scenario>/{README.md, user.conf, measurements.json,
            performance/run_1/..., accuracy/... (log truncated, hash in accuracy.txt),
            TEST01/..., TEST04/..., TEST06/...} (v6.x: the audit tests sit beside the results)
        (llama2-70b-interactive-99's Server run: results/<system>/llama2-70b-99/Interactive/, as v6.1 names it)
        systems/<system>.json                  (host facts + the user's YAML)
        src/                                   (the harness source, images.yaml, Dockerfiles)
        documentation/README.md

Everything is checked before anything is written; the tree is built in a hidden folder
beside the output and renamed into place at the end, so a failure leaves nothing. The run
folders are only read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from importlib import metadata
from pathlib import Path

import mlperf_harness
from mlperf_harness.contract import (ACCURACY_LOG, ACCURACY_TXT, DETAIL, MEASUREMENTS, SUMMARY,
                                     USER_CONF, read_accuracy, read_summary)

from launcher.errors import UsageError
from launcher.submission import system as system_mod
from launcher.submission.runs import RunFolder, ScenarioResult, load_runs
from launcher.submission.truncate import truncated_copy

REPO = Path(__file__).resolve().parents[2]
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")
_SKIP = {"audit.config", "mlperf_log_trace.json"}


def tool_version() -> str:
    try:
        return metadata.version("mlperf-docker")
    except metadata.PackageNotFoundError:
        return "unknown"


def image_parts(tag: str | None) -> tuple[str, str]:
    """'<repo>/<framework>-<device>:<model>-<precision>[-standin]' -> (framework, device)."""
    if not tag or ":" not in tag:
        return "unknown", "unknown"
    name = tag.rpartition(":")[0]
    framework, _, device = name.rsplit("/", 1)[-1].rpartition("-")
    return framework or "unknown", device or "unknown"


def framework_text(run: RunFolder, system_name: str) -> str:
    framework, _ = image_parts(run.image)
    version = system_name.rsplit("-v", 1)[1] if "-v" in system_name else ""
    return f"{framework} {version}".strip()


def software_text(run: RunFolder) -> str:
    digest = run.record.get("image_digest") or run.record.get("image_id") or "digest not recorded"
    return (f"mlperf-docker {tool_version()} (MLPerf inference reference harness in a container); "
            f"image {run.image or 'unknown'} ({digest}); "
            f"mlcommons-loadgen {run.loadgen_version() or 'unknown'}")


def command_text(run: RunFolder, result: ScenarioResult) -> str:
    if run.record.get("command"):
        command = run.record["command"]
        return " ".join(command) if isinstance(command, list) else str(command)
    scenarios = ",".join(run.record.get("scenarios") or [result.scenario])
    return (f"mlperf-docker run --variation {run.record.get('variation', '?')} --scenario "
            f"{scenarios} --mode {run.record.get('mode', 'both')}  (reconstructed from run.json; "
            "other flags: see user.conf)")


def _metric(result: ScenarioResult) -> str:
    from mlperf_harness.report import performance_metric

    summary = read_summary(result.performance / SUMMARY)
    return f"{performance_metric(result.scenario, summary)} ({summary.validity or 'UNKNOWN'})"


def readme(run: RunFolder, result: ScenarioResult) -> str:
    framework, device = image_parts(run.image)
    accuracy = (result.accuracy / ACCURACY_TXT).read_text(encoding="utf-8").splitlines()
    lines = [
        f"# {result.submission_path[1]} {result.submission_path[2]} on {result.system}", "",
        f"Produced by mlperf-docker {tool_version()}: the MLPerf inference Python reference "
        f"benchmark ({framework} on {device}) in a container with no network, LoadGen "
        f"{run.loadgen_version() or 'unknown'}.", ""]
    if run.standin:
        lines += ["**Stand-in model and dataset** (generated): a smoke test of the whole path, "
                  "not a valid MLPerf result.", ""]
    lines += ["## Command", "", "```sh", command_text(run, result), "```", ""]
    if run.record.get("harness_command"):
        lines += ["Inside the container:", "", "```sh",
                  " ".join(run.record["harness_command"]), "```", ""]
    digest = run.record.get("image_digest") or run.record.get("image_id") or "not recorded"
    lines += ["## Image", "", f"- tag: `{run.image or 'unknown'}`", f"- digest: `{digest}`",
              f"- Dockerfile: `src/dockerfiles/{framework}-{device}.Dockerfile` (rendered from "
              "`src/images.yaml`); harness: `src/harness/mlperf_harness/`", "",
              "## Results", "", f"- performance: {_metric(result)}",
              f"- accuracy: {accuracy[0] if accuracy else 'n/a'}"]
    for test in result.audits:
        verdicts = []
        for name in ("verify_accuracy.txt", "verify_performance.txt"):
            file = result.path / test / name
            if file.is_file():
                text = file.read_text(errors="replace")  # TEST06: the reference's "verification complete"
                passed = "TEST PASS" in text or "TEST06 verification complete" in text
                verdicts.append(f"{name.split('_')[1].split('.')[0]} {'PASS' if passed else 'FAIL'}")
        lines.append(f"- {test}: {', '.join(verdicts) or 'not verified'}")
    lines += ["", f"Source run folder: `{run.path.name}` (settings: `user.conf`).", ""]
    return "\n".join(lines)


def _copy_files(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for file in sorted(src.iterdir()):
        if file.is_file() and file.name not in _SKIP:
            shutil.copy2(file, dst / file.name)


def copy_result(run: RunFolder, result: ScenarioResult, dest: Path) -> None:
    dest.mkdir(parents=True)
    for name in (USER_CONF, MEASUREMENTS):
        shutil.copy2(result.path / name, dest / name)
    _copy_files(result.performance, dest / "performance" / "run_1")
    accuracy = dest / "accuracy"
    accuracy.mkdir()
    for name in (SUMMARY, DETAIL, ACCURACY_TXT):
        shutil.copy2(result.accuracy / name, accuracy / name)
    truncated_copy(result.accuracy / ACCURACY_LOG, accuracy / ACCURACY_LOG, accuracy / ACCURACY_TXT)
    for test in result.audits:
        source, target = result.path / test, dest / test
        _copy_files(source, target)
        for sub in sorted(p for p in source.rglob("*") if p.is_dir()):
            relative = sub.relative_to(source)
            files = [f for f in sub.iterdir() if f.is_file() and f.name not in _SKIP]
            if files:
                _copy_files(sub, target / relative)
        logged = source / "accuracy" / ACCURACY_LOG
        if logged.is_file():
            truncated_copy(logged, target / "accuracy" / ACCURACY_LOG,
                           target / "accuracy" / ACCURACY_TXT)
    (dest / "README.md").write_text(readme(run, result), encoding="utf-8")


def write_src(dest: Path, runs: list[RunFolder]) -> None:
    harness = Path(mlperf_harness.__file__).resolve().parent
    shutil.copytree(harness, dest / "harness" / "mlperf_harness",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("images.yaml", "images.lock.yaml"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    (dest / "dockerfiles").mkdir()
    for run in runs:
        framework, device = image_parts(run.image)
        dockerfile = REPO / "dockerfiles" / f"{framework}-{device}.Dockerfile"
        if dockerfile.is_file():
            shutil.copy2(dockerfile, dest / "dockerfiles" / dockerfile.name)
    (dest / "README.md").write_text(
        "# Source\n\n`harness/mlperf_harness/`: the benchmark harness that ran inside the image "
        "(LoadGen SUT/QSL, backends, per-model pre/post-processing and accuracy scripts, "
        "compliance verification).\n`images.yaml`: the image specification (bases, framework "
        "pins, models, datasets); `dockerfiles/`: the image's Dockerfile rendered from it.\n"
        f"Produced by mlperf-docker {tool_version()}.\n", encoding="utf-8")


def generate(run_paths, output: Path, system_yaml: Path, division: str = "closed",
             host: dict | None = None, say=print) -> Path:
    """Build the tree; returns <output>/<division>/<submitter>. UsageError before any write."""
    output = Path(output)
    runs = load_runs(run_paths)
    user = system_mod.load_user_yaml(system_yaml)
    division = str(user.get("division", division)).lower()
    if division not in system_mod.DIVISIONS:
        raise UsageError(f"--division {division!r}: expected closed, open or network")
    for run in runs:
        over_network = bool(system_mod.network_fields(run.record))
        if (division == "closed" and over_network) or (division == "network" and not over_network):
            raise UsageError(f"{run.path}: {'a' if over_network else 'not a'} run over the network "
                             f"(LoadGen over the network), so not for the {division} division "
                             f"({'network or open' if over_network else 'closed or open'})")
    submitter = str(user["submitter"])
    if not _PLAIN.match(submitter):
        raise UsageError(f"--system-yaml {system_yaml}: submitter {submitter!r} must be a plain "
                         "name (letters, digits, . _ + -): it names a folder")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"--output {output} exists and is not empty; give a new folder")
    host = system_mod.host_fields() if host is None else host
    systems: dict[str, dict] = {}
    for run in runs:
        for result in run.results:
            if result.system not in systems:
                systems[result.system] = system_mod.describe(
                    {**host, **system_mod.network_fields(run.record)}, user, division, framework_text(run, result.system), software_text(run))

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        root = staging / division / submitter
        for run in runs:
            for result in run.results:
                copy_result(run, result, root / "results" / Path(*result.submission_path))
        (root / "systems").mkdir(parents=True)
        for name, description in systems.items():
            (root / "systems" / f"{name}.json").write_text(
                json.dumps(description, indent=2) + "\n", encoding="utf-8")
        write_src(root / "src", runs)
        (root / "documentation").mkdir()
        (root / "documentation" / "README.md").write_text(
            f"# {submitter}\n\nResults produced with mlperf-docker {tool_version()}; each "
            "results/<system>/<benchmark>/<scenario>/README.md gives the command and image.\n",
            encoding="utf-8")
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for run in runs:
        for result in run.results:
            accuracy = read_accuracy(result.accuracy / ACCURACY_TXT)
            say(f"{'/'.join(result.submission_path)}: {_metric(result)}, accuracy "
                f"{'n/a' if accuracy is None else f'{accuracy:g}'}"
                + (f", {', '.join(result.audits)}" if result.audits else ""))
    return output / division / submitter

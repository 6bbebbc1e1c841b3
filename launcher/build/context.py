"""Stage a build context: the Dockerfile plus wheels/, model-wheels/, framework-wheels/, models/, datasets/ and harness/ it copies from."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from launcher.build import wheelhouse
from launcher.spec.render import ROOT

HARNESS_SOURCE = ROOT / "harness" / "mlperf_harness"


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)


def stage(cache: Path, dockerfile: Path, wheels: Path, model: str, model_files: list[Path],
          dataset: str, dataset_dir: Path | None, siblings: dict[str, str | None] | None = None,
          spec_file: Path | None = None) -> Path:
    """A fresh context folder under the cache; the caller removes it after the build.

    `siblings` (every model of the Dockerfile -> its dataset) get empty folders, so stages other than
    the target (which the classic builder runs too) find what they COPY."""
    root = cache / "contexts"
    root.mkdir(parents=True, exist_ok=True)
    context = Path(tempfile.mkdtemp(prefix=f"{model}-", dir=root))
    shutil.copy2(dockerfile, context / "Dockerfile")
    (context / "wheels").mkdir()
    for item in wheels.iterdir():
        if item.name not in (wheelhouse.STAMP, wheelhouse.MODEL_WHEELS, wheelhouse.FRAMEWORK_WHEELS):
            _link_or_copy(str(item), str(context / "wheels" / item.name))
    # The models' own wheels, for the <model>-deps stages (empty where the family's models have none).
    (context / wheelhouse.MODEL_WHEELS).mkdir()
    if (wheels / wheelhouse.MODEL_WHEELS).is_dir():
        for item in (wheels / wheelhouse.MODEL_WHEELS).iterdir():
            _link_or_copy(str(item), str(context / wheelhouse.MODEL_WHEELS / item.name))
    # The wheels a framework extending another adds, for the framework-layer stage (empty otherwise).
    (context / wheelhouse.FRAMEWORK_WHEELS).mkdir()
    if (wheels / wheelhouse.FRAMEWORK_WHEELS).is_dir():
        for item in (wheels / wheelhouse.FRAMEWORK_WHEELS).iterdir():
            _link_or_copy(str(item), str(context / wheelhouse.FRAMEWORK_WHEELS / item.name))
    models = context / "models" / model
    models.mkdir(parents=True)
    for path in model_files:  # a file, or a checkpoint folder (generative models)
        if path.is_dir():
            _copy_tree(path, models / path.name)
        else:
            _link_or_copy(str(path), str(models / path.name))
    data = context / "datasets" / dataset
    data.mkdir(parents=True)
    if dataset_dir is not None:
        _copy_tree(dataset_dir, data)
    for other, other_dataset in (siblings or {}).items():
        (context / "models" / other).mkdir(parents=True, exist_ok=True)
        if other_dataset:
            (context / "datasets" / other_dataset).mkdir(parents=True, exist_ok=True)
    _copy_tree(HARNESS_SOURCE, context / "harness" / "mlperf_harness")
    if spec_file is not None:  # the harness reads its model table from it (contract.IN_IMAGE_SPEC)
        shutil.copy2(spec_file, context / "harness" / "images.yaml")
    return context

"""Stand-in models and datasets: tiny, synthetic, generated on the host with no
download, with the real artefacts' file names and signatures and a known
accuracy, so images and the harness can be tested end to end."""

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Tuple


def prepare(out_dir, backend: str, model_files, count: Tuple[str, int],
            fraction: Tuple[str, float]) -> Tuple[Path, Path]:
    """The checks every generator starts with, then out_dir/model and out_dir/dataset (created)."""
    if backend not in model_files:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(model_files)}")
    if count[1] < 1:
        raise ValueError(f"{count[0]} must be at least 1")
    if not 0.0 <= fraction[1] <= 1.0:
        raise ValueError(f"{fraction[0]} must be within 0..1")
    model_dir, data_dir = Path(out_dir) / "model", Path(out_dir) / "dataset"
    model_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    return model_dir, data_dir


def onnx_model(graph, opset: int, ir_version: int, name: str, version: int, doc: str):
    """A stand-in's ONNX graph as a checked model: ``opset``, ``ir_version``, producer
    "mlperf-docker <name> stand-in" at the generator's ``version``, and ``doc``."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=f"mlperf-docker {name} stand-in",
                              producer_version=str(version))
    model.ir_version = ir_version
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model


def save_state_dict(path, state) -> Path:
    """A stand-in's weights in the published format: a state_dict saved with torch.save (through a
    buffer, so the bytes do not depend on the file's name)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    path.write_bytes(buf.getvalue())
    return path


def write_expected(out_dir, model_path, data_dir, expected: dict) -> dict:
    """Write ``expected`` as out_dir/expected.json; the generator's answer (paths + expected)."""
    (Path(out_dir) / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    return {"model_path": str(model_path), "dataset_path": str(data_dir), **expected}


def main(prog: str, description: str, backends, count: tuple[str, int, str], fraction: tuple[str, float, str],
         generate: Callable[..., dict], argv=None) -> int:
    """The command line every generator shares: OUT_DIR, --backend, a size, a known fraction, --seed."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--backend", default="onnxruntime", choices=sorted(backends))
    parser.add_argument(count[0], type=int, default=count[1], help=count[2])
    parser.add_argument(fraction[0], type=float, default=fraction[1], help=fraction[2])
    parser.add_argument("--seed", type=int, default=0)
    args = vars(parser.parse_args(argv))
    size, known = args[count[0].lstrip("-")], args[fraction[0].lstrip("-")]
    try:
        info = generate(args["out_dir"], size, known, args["seed"], backend=args["backend"])
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0

"""Convert an ONNX model to ncnn (``X.ncnn.param`` + ``X.ncnn.bin``) with pnnx, at image build time.

Runs in the image's convert stage with the Python standard library and the pnnx
wheel (installed without its torch dependency: the ``pnnx`` executable inside it
converts ONNX on its own). Layers the ncnn runtime does not have are rewritten:
ArgMax becomes a Noop passing the scores on (the backend takes their argmax).

    python3 ncnn_convert.py SOURCE_DIR OUT_DIR [--pnnx PATH]

converts each ``*.onnx`` in SOURCE_DIR (input shape [1,3,224,224], the image
models') and writes only the ncnn pair into OUT_DIR.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INPUT_SHAPE = "[1,3,224,224]"
# layer type pnnx emits -> what replaces it (ncnn has no such layer)
REPLACED = {"ArgMax": "Noop"}


def rewrite(param: str) -> str:
    """The .param text with unsupported layer types replaced (same names, blobs and counts)."""
    lines = param.splitlines()
    out = lines[:2]
    for line in lines[2:]:
        fields = line.split()
        if fields and fields[0] in REPLACED:
            # Noop takes no parameters: keep type, name, counts and blob names only.
            counts = 4 + int(fields[2]) + int(fields[3])
            line = f"{REPLACED[fields[0]]:<24} " + " ".join(fields[1:counts])
        out.append(line)
    return "\n".join(out) + "\n"


def pnnx_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    import importlib.util

    # The wheel's package, found without importing it (its __init__ imports torch, not installed):
    # the executable lives beside __init__.py.
    spec = importlib.util.find_spec("pnnx")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).with_name("pnnx")
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("pnnx")
    if not found:
        raise SystemExit("error: no pnnx executable (install the pnnx wheel)")
    return found


def convert(onnx_path: Path, out_dir: Path, pnnx: str) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / onnx_path.name
        shutil.copy2(onnx_path, work)
        proc = subprocess.run([pnnx, work.name, f"inputshape={INPUT_SHAPE}", "fp16=0"], cwd=tmp,
                              capture_output=True, text=True)
        stem = work.with_suffix("")
        param, weights = Path(f"{stem}.ncnn.param"), Path(f"{stem}.ncnn.bin")
        if proc.returncode != 0 or not param.is_file() or not weights.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise SystemExit(f"error: pnnx could not convert {onnx_path.name} (exit {proc.returncode}): "
                             + " | ".join(tail))
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / param.name).write_text(rewrite(param.read_text()))
        shutil.copyfile(weights, out_dir / weights.name)
        return [out_dir / param.name, out_dir / weights.name]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ncnn_convert", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pnnx", help="the pnnx executable (default: the pnnx wheel's)")
    parser.add_argument("--precision", choices=("fp32",), default="fp32",
                        help="the image's precision (the images' converter stage passes it; ncnn runs fp32)")
    args = parser.parse_args(argv)
    models = sorted(args.source.glob("*.onnx"))
    if not models:
        print(f"error: no .onnx model in {args.source}", file=sys.stderr)
        return 2
    pnnx = pnnx_binary(args.pnnx)
    for model in models:
        for path in convert(model, args.out, pnnx):
            print(f"ncnn_convert: {model.name} -> {path.name} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

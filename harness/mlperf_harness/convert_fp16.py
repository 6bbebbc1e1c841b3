"""The fp32 ONNX model -> float16, for onnxruntime on GPUs (issue 9). It is the onnxruntime cuda/rocm
images' build-time converter (images.yaml frameworks.onnxruntime.installs.<device>.converter): a stage of
its own, with onnx and onnxconverter-common installed there only, converts the baked model when the image
is built for `_float16` and copies it unchanged otherwise.

onnxconverter-common's ``convert_float_to_float16(model, keep_io_types=True)``: weights and arithmetic in
half, inputs and outputs kept as they are (the harness feeds and reads float32/int64 unchanged). Cast is
kept out of the conversion: the converter retypes a Cast's output to float16 but leaves its ``to=FLOAT``
attribute, and onnxruntime then refuses the model (checked with onnxconverter-common 1.16.0 on the bert
stand-in, whose input_mask Cast is the reference model's). The converted model carries the metadata
``PRECISION_KEY: float16``, which the onnxruntime backend asks for before it runs a model as `float16`.
Imports onnx and onnxconverter_common when run; standard library otherwise (the stage runs it alone).

    python convert_fp16.py SOURCE_DIR OUT_DIR [--precision fp32|float16]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

PRECISION_KEY = "mlperf-docker.precision"


def convert(src, dst) -> Path:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    half = float16.convert_float_to_float16(
        model, keep_io_types=True, op_block_list=list(float16.DEFAULT_OP_BLOCK_LIST) + ["Cast"])
    onnx.helper.set_model_props(half, {PRECISION_KEY: "float16"})
    onnx.save(half, str(dst))
    return Path(dst)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="convert_fp16", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the folder of the baked model")
    parser.add_argument("out", type=Path, help="the model folder of the image")
    parser.add_argument("--precision", choices=("fp32", "int8", "float16"), default="fp32",
                        help="float16 converts every .onnx file; otherwise the files are copied as they are")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.source.iterdir() if p.is_file())
    if not any(p.suffix == ".onnx" for p in files):
        print(f"error: no .onnx model in {args.source}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for path in files:
        if args.precision == "float16" and path.suffix == ".onnx":
            convert(path, args.out / path.name)
            print(f"convert_fp16: {path.name} -> float16 ({(args.out / path.name).stat().st_size} bytes)")
        else:
            shutil.copy2(path, args.out / path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

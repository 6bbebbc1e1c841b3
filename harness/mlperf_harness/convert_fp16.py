"""The fp32 ONNX model -> float16, for onnxruntime on GPUs (issue 9: to run in its own image layer, with
onnxconverter-common installed in that layer only; not wired into the images yet).

onnxconverter-common's ``convert_float_to_float16(model, keep_io_types=True)``: weights and arithmetic in
half, inputs and outputs kept as they are (the harness feeds and reads float32/int64 unchanged). Cast is
kept out of the conversion: the converter retypes a Cast's output to float16 but leaves its ``to=FLOAT``
attribute, and onnxruntime then refuses the model (checked with onnxconverter-common 1.16.0 on the bert
stand-in, whose input_mask Cast is the reference model's). Imports onnx and onnxconverter_common when run.

    python -m mlperf_harness.convert_fp16 IN.onnx OUT.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(src, dst) -> Path:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    half = float16.convert_float_to_float16(
        model, keep_io_types=True, op_block_list=list(float16.DEFAULT_OP_BLOCK_LIST) + ["Cast"])
    onnx.save(half, str(dst))
    return Path(dst)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m mlperf_harness.convert_fp16 IN.onnx OUT.onnx", file=sys.stderr)
        return 2
    convert(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

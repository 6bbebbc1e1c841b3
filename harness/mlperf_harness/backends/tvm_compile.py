"""Compile a model with Apache TVM (Relax) for one CPU target: at image build time (the Dockerfile's
``<model>-tvm`` stage runs this module on the baked model) or, for a model the image did not bake
(``--model``), when the tvm backend loads it.

    python -m mlperf_harness.backends.tvm_compile --framework tvm-onnx --target llvm MODEL OUT_DIR

writes OUT_DIR/model.vm (the Relax VM executable: bytecode and constants), OUT_DIR/kernels-<i>.ll
(its compiled kernels as optimised LLVM IR for the target, which TVM's own LLVM turns into machine code
when it loads them: ``export_library`` would need a C compiler and linker, which images do not carry)
and OUT_DIR/compiled.json:
the target, the LLVM CPU features it needs, the source file's name and sha256, the input names and
layout, the output names in the executable's order and whether the batch dimension is dynamic.

Frontends (TVM 0.27's ``tvm.relax.frontend``): tvm-onnx reads the ONNX graph; tvm-pytorch builds the
reference architecture from a state_dict (backends/state_dicts.py, as the pytorch backend does) or
takes a TorchScript/pickled module, and goes through ``torch.export`` with a dynamic batch (0.27 has
no TorchScript frontend); tvm-tflite reads the flatbuffer with the ``tflite`` schema package (static
shapes: its frontend takes no symbolic batch, so the batch is the model's own).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import List

from mlperf_harness.backends.tvm_target import DEFAULT_TARGET, target_dict  # noqa: F401  (this module's API too)

EXECUTABLE = "model.vm"
KERNELS = "kernels-{}.ll"
META = "compiled.json"
FRAMEWORKS = ("tvm-onnx", "tvm-pytorch", "tvm-tflite")


def target_features(text: str) -> List[str]:
    """The LLVM CPU features code compiled for the target may use."""
    import tvm

    return sorted(tvm.target.codegen.llvm_get_cpu_features(tvm.target.Target(target_dict(text))))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _onnx(path: Path):
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    model = onnx.load(str(path))
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    dynamic = bool(dims) and not dims[0].dim_value
    layout = "NHWC" if len(dims) == 4 and dims[3].dim_value == 3 else "NCHW"
    return (from_onnx(model, keep_params_in_input=False), [i.name for i in inputs],
            [o.name for o in model.graph.output], dynamic, layout)


def _torch_module(path: Path):
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception:
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
    if isinstance(obj, torch.nn.Module):
        return obj.eval()
    from mlperf_harness.backends.state_dicts import load_state_dict_model

    return load_state_dict_model(obj)[0]


def _pytorch(path: Path):
    import torch
    from tvm.relax.frontend.torch import from_exported_program

    module = _torch_module(path)
    if isinstance(module, torch.jit.ScriptModule):
        raise ValueError(f"{path}: a TorchScript archive; TVM 0.27 imports torch.export programs only "
                         "(pass the state_dict)")
    batch = torch.export.Dim("batch", min=1, max=4096)
    example = torch.zeros(2, 3, 224, 224)
    program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
    with torch.no_grad():
        sample = module(example)
    outputs = list(sample) if isinstance(sample, dict) else ["output_0"]
    inputs = [s.arg.name for s in program.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    return from_exported_program(program, keep_params_as_input=False), inputs, outputs, True, "NCHW"


def _tflite(path: Path):
    import tflite
    from tvm.relax.frontend.tflite import from_tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    name = lambda i: graph.Tensors(i).Name().decode()  # noqa: E731
    inputs = [name(graph.Inputs(i)) for i in range(graph.InputsLength())]
    outputs = [name(graph.Outputs(i)) for i in range(graph.OutputsLength())]
    return from_tflite(model), inputs, outputs, False, "NHWC"


FRONTENDS = {"tvm-onnx": _onnx, "tvm-pytorch": _pytorch, "tvm-tflite": _tflite}


def compile_model(framework: str, model: Path, out_dir: Path, target: str = DEFAULT_TARGET) -> dict:
    """Compile ``model`` for ``target`` into out_dir; returns what compiled.json records."""
    if framework not in FRONTENDS:
        raise ValueError(f"unknown TVM framework {framework!r}; choose from {', '.join(FRAMEWORKS)}")
    import tvm
    from tvm import relax

    tvm_target = tvm.target.Target(target_dict(target))
    mod, inputs, outputs, dynamic, layout = FRONTENDS[framework](Path(model))
    executable = relax.build(mod, target=tvm_target)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executable.mod.write_to_file(str(out_dir / EXECUTABLE))
    kernels = []
    for i, lib in enumerate(executable.mod.imports):
        if lib.kind != "llvm":
            raise ValueError(f"TVM compiled a {lib.kind} module, not llvm: not loadable without a linker")
        lib.write_to_file(str(out_dir / KERNELS.format(i)), "ll")
        kernels.append(KERNELS.format(i))
    meta = {"kernels": kernels, "framework": framework, "tvm": tvm.__version__, "target": target,
            "features": target_features(target), "source": Path(model).name,
            "source_sha256": sha256_file(Path(model)), "inputs": inputs, "outputs": outputs,
            "dynamic_batch": dynamic, "layout": layout}
    (out_dir / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlperf_harness.backends.tvm_compile",
                                     description="Compile a model with TVM for one CPU target.")
    parser.add_argument("--framework", required=True, choices=FRAMEWORKS)
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--if-present", action="store_true",
                        help="a missing model file is not an error: leave OUT_DIR empty (the classic "
                             "builder runs the compile stages of an image's other models too)")
    parser.add_argument("model", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if args.if_present and not args.model.exists():
        args.out_dir.mkdir(parents=True, exist_ok=True)
        print(f"{args.model} is not in this build: nothing to compile")
        return 0
    try:
        meta = compile_model(args.framework, args.model, args.out_dir, args.target)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in meta.items() if k not in ("features", "kernels")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def load_executable(folder: Path):
    """The compiled executable in ``folder`` with its kernels imported (LLVM IR, made machine code by
    TVM's LLVM when loaded), ready for ``relax.VirtualMachine``."""
    import tvm
    import tvm_ffi

    meta = json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    executable = tvm_ffi.get_global_func("ffi.Module.load_from_file.relax.VMExecutable")(
        str(Path(folder) / EXECUTABLE))
    for name in meta["kernels"]:
        executable.import_module(tvm.runtime.load_module(str(Path(folder) / name)))
    return executable

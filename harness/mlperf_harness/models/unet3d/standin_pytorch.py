"""The 3d-unet stand-in for the pytorch backend: the same weights and dataset as
standin.py's ONNX stand-in, the model exported as pytorch loads it."""

from mlperf_harness.models.unet3d import standin as _generator

# launcher.artifacts regenerates a stand-in when the source at __file__ changes: that is the generator's.
__file__ = _generator.__file__


def generate(out_dir, **options):
    return _generator.generate(out_dir, backend="pytorch", **options)

"""The resnet50 stand-in for the tf backend: the same weights and dataset as
resnet50.py's ONNX stand-in, the model exported as tf loads it."""

from launcher.standins import resnet50 as _generator

# launcher.artifacts regenerates a stand-in when the source at __file__ changes: that is the generator's.
__file__ = _generator.__file__


def generate(out_dir, **options):
    return _generator.generate(out_dir, backend="tf", **options)

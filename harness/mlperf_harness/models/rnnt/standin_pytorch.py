"""The rnnt stand-in for the pytorch backend (its only backend): standin.py's generator."""

from mlperf_harness.models.rnnt import standin as _generator

# launcher.artifacts regenerates a stand-in when the source at __file__ changes: that is the generator's.
__file__ = _generator.__file__


def generate(out_dir, **options):
    return _generator.generate(out_dir, backend="pytorch", **options)

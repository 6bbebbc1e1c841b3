"""mlperf-docker's host side: spec -> render -> build -> run -> results (see the README's "How it is built").

The launcher <-> harness contract (mlperf_harness.contract) lives in the harness package beside this
one; in a source checkout that is ../harness, which goes on sys.path so the launcher and the images
it builds always agree on one contract (an editable install of another checkout cannot shadow it).
"""

import sys
from pathlib import Path

_HARNESS = Path(__file__).resolve().parent.parent / "harness"
if (_HARNESS / "mlperf_harness").is_dir() and str(_HARNESS) not in sys.path:
    sys.path.append(str(_HARNESS))

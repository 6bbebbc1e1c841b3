"""``python -m mlperf_harness``: run the requested MLPerf tests."""

import sys

from mlperf_harness.cli import main

if __name__ == "__main__":
    sys.exit(main())

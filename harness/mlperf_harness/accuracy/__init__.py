"""Accuracy scripts: read mlperf_log_accuracy.json, write accuracy.txt."""

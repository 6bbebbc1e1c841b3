"""Slurm job arrays of benchmark runs (`mlperf-docker slurm`)."""

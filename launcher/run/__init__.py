"""Running a benchmark: options, the frozen run plan, the container it becomes, GPU passthrough, results."""

"""Stand-in models and datasets: tiny, synthetic, generated on the host with no
download, with the real artefacts' file names and signatures and a known
accuracy, so images and the harness can be tested end to end."""

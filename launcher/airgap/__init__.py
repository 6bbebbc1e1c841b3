"""Air-gapped labs: fetch ahead (downloads, lock file), registry mirrors, and image bundles."""

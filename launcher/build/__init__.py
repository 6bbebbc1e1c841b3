"""Making images: wheelhouse, artifacts and stand-ins, the staged build context, the build itself, local bases, the CI matrix."""

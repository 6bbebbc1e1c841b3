"""images.yaml: its typed model (model.py), CM-style variations and image names (variation.py), Dockerfile rendering (render.py)."""

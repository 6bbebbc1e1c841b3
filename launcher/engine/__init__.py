"""The container engine: an interface (base.py) and the docker implementation behind it; nothing else imports docker."""

"""Reference data files of the domain core, read with ``importlib.resources``."""

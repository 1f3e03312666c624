"""tinygdl: a from-scratch deep-learning engine (work in progress)."""
__version__ = "0.1.0"

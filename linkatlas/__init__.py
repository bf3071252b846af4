"""linkatlas: a self-hosted backlink index that finds broken backlinks."""

__version__ = "0.1.0"

"""PolicyLab: a Jupyter curriculum in evidence-based policy analysis, and its tooling."""

__version__ = "0.1.0"

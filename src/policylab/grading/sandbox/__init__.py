"""The grading sandbox: bubblewrap kernels, the sandboxed Execute step, the output budget (see configure.py)."""

"""The simulated cohort and the whole-cycle demo (for ``policylab demo``, tests and benchmarks)."""

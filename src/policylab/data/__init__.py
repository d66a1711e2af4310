"""Synthetic corporation data and the privacy toolkit.

One job per module: ``truth`` (the planted policy effects), ``generate`` (raw synthetic
tables, deterministic from one seed), ``privacy`` (pseudonyms, generalization,
suppression, k-anonymity, the direct-identifier scan) and ``publish`` (raw → ``datasets/``,
refusing any table that fails its checks).
"""

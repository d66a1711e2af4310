"""The one-server JupyterHub deployment: ``policylab hub init`` and ``policylab hub check``."""

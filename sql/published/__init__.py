"""The one description of the published TAP tables (``xpha.yaml``) and what is derived from it."""

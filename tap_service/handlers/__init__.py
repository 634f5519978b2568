"""HTTP handlers: thin layers over the service modules (query, vosi, scs)."""

"""The composition root: the ``xpha`` command and ``xpha demo``, which wire every part together.

Nothing below imports this package: ``sql`` is the base, ``ingest`` builds on it, ``training``
on both, ``tap_service`` on ``sql``; only here do they meet (see tests/test_layering.py).
"""

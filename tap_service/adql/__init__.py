"""ADQL 2.1 -> PostgreSQL (Q3C + pgSphere) on sqlglot, behind an allow-list.

``translate(adql, catalog, row_limit=..., uploads=...)`` is the whole interface.
"""

from tap_service.adql.errors import AdqlError, AdqlSecurityError
from tap_service.adql.translate import OutputColumn, Translation, translate

__all__ = ["AdqlError", "AdqlSecurityError", "OutputColumn", "Translation", "translate"]

"""The TAP service's composition: everything built from settings, nothing process-wide.

Building opens nothing (no database at the URL is needed); two builds share no state; the
catalogue cache re-reads after its TTL only; ADQL reads only the schema the catalogue was
loaded for (no fallback to process-wide settings).
"""

from __future__ import annotations

import pytest

from tap_service.adql import AdqlError, translate
from tap_service.catalog import Catalog, CatalogCache, ColumnInfo, TableInfo
from tap_service.factory import build_services
from tap_service.settings import TapSettings

NOWHERE = "postgresql://nobody:secret@127.0.0.1:9/none"  # port 9 (discard): nothing listens


def settings(**values: object) -> TapSettings:
    return TapSettings(_env_file=None, database_url=NOWHERE, **values)  # type: ignore[call-arg]


def test_building_opens_nothing_and_takes_the_settings() -> None:
    given = settings(
        tap_catalog_ttl_s=7.5,
        tap_sync_per_client=3,
        uws_workers=5,
        uws_list_limit=11,
        tap_pool_size=4,
    )
    services = build_services(given)
    assert services.settings is given and services.engine.settings is given
    assert services.engine.pool.closed and services.engine.pool.max_size == 4
    assert services.engine.catalogue.ttl_s == 7.5
    assert services.client_slots.per_client == 3
    assert services.jobs.limits.list_limit == 11 and services.jobs._workers == 5
    other = build_services(settings())
    assert other.engine is not services.engine and other.jobs is not services.jobs
    assert other.engine.catalogue is not services.engine.catalogue


def test_catalogue_cache_reads_again_only_after_its_ttl() -> None:
    reads: list[int] = []
    reloaded: list[int] = []

    def read() -> Catalog:
        reads.append(1)
        return Catalog()

    forever = CatalogCache(read, ttl_s=3600, on_reload=lambda: reloaded.append(1))
    first = forever.get()
    assert forever.get() is first and len(reads) == 1 and len(reloaded) == 1
    always = CatalogCache(read, ttl_s=0)
    always.get()
    always.get()
    assert len(reads) == 3


STARS = TableInfo("xpha", "stars", None, {"ra": ColumnInfo("ra", "double")})


@pytest.mark.parametrize(
    ("published", "allowed"), [("xpha", True), (None, False), ("other", False)]
)
def test_adql_reads_only_the_catalogues_published_schema(
    published: str | None, allowed: bool
) -> None:
    catalog = Catalog.of([STARS], published_schema=published)
    if allowed:
        assert '"xpha"."stars"' in translate("SELECT ra FROM xpha.stars", catalog).sql
    else:
        with pytest.raises(AdqlError, match="not published"):
            translate("SELECT ra FROM xpha.stars", catalog)

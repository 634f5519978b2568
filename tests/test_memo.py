"""What is kept per catalogue (``tap_service.memo``), and the translations a TAP engine keeps.

A kept value is served only with the catalogue object it was worked out from; None and
exceptions are never kept; the memo starts afresh when full. Against a real database: a repeated
query is translated once, a different row limit or a re-read catalogue translates again, and
queries with uploads or over ``MEMO_QUERY_CHARS`` are never kept; a cone query at a new centre
is written from its kept shape (``tap_service.adql.cone_shape``), not translated again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from tap_support import seed_field, tap_settings

import tap_service.query as query
from tap_service.adql import Translation, cone_shape
from tap_service.memo import Memo
from tap_service.query import TapEngine, TapRequest, run_query


class Counted:
    """A compute function that counts its calls and returns what it is told."""

    def __init__(self, value: object = "v", error: Exception | None = None) -> None:
        self.calls, self.value, self.error = 0, value, error

    def __call__(self) -> object:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.value


def test_a_value_is_kept_for_its_key_and_catalogue() -> None:
    memo: Memo[object] = Memo(8)
    catalog, compute = object(), Counted()
    assert [memo.get("k", catalog, compute) for _ in range(3)] == ["v"] * 3
    assert compute.calls == 1
    assert memo.get("other", catalog, compute) == "v" and compute.calls == 2


def test_another_catalogue_computes_again_and_replaces_the_value() -> None:
    memo: Memo[object] = Memo(8)
    old, new = object(), object()
    memo.get("k", old, Counted("from old"))
    assert memo.get("k", new, Counted("from new")) == "from new"
    assert memo.get("k", new, Counted("never")) == "from new"
    assert memo.get("k", old, Counted("old again")) == "old again"  # never the new one's value


@pytest.mark.parametrize("compute", [Counted(None), Counted(error=ValueError("refused"))])
def test_none_and_errors_are_not_kept(compute: Counted) -> None:
    memo: Memo[object] = Memo(8)
    catalog = object()
    for _ in range(2):
        with contextlib.suppress(ValueError):
            assert memo.get("k", catalog, compute) is None
    assert compute.calls == 2


def test_clear_and_the_size_bound() -> None:
    memo: Memo[object] = Memo(2)
    catalog, compute = object(), Counted()
    memo.get("a", catalog, compute)
    memo.clear()
    memo.get("a", catalog, compute)
    assert compute.calls == 2
    memo.get("b", catalog, compute)
    memo.get("c", catalog, compute)  # full: starts afresh with c alone
    memo.get("c", catalog, compute)
    memo.get("a", catalog, compute)
    assert compute.calls == 5


# --- the translations a TAP engine keeps --------------------------------------------------------
@pytest.fixture(scope="module")
def engine(module_db_url: str) -> Iterator[TapEngine]:
    seed_field(module_db_url, 200)
    engine = TapEngine(tap_settings(module_db_url, tap_catalog_ttl_s=3600), module_db_url)
    engine.open()
    yield engine
    engine.close()


@pytest.fixture
def translations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ADQL of every translation the engine works out, in order."""
    seen: list[str] = []
    real = query.translate

    def counting(adql: str, *args, **kwargs) -> Translation:
        seen.append(adql)
        return real(adql, *args, **kwargs)

    monkeypatch.setattr(query, "translate", counting)
    monkeypatch.setattr(cone_shape, "translate", counting)  # cone queries go through shapes
    return seen


def rows(engine: TapEngine, adql: str, maxrec: int | None = None) -> int:
    body = b"".join(run_query(TapRequest(adql, maxrec=maxrec, responseformat="csv"), engine).body)
    return body.count(b"\n") - 1


CONE = (
    "SELECT source_id FROM xpha.gaia_source"
    " WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, 0, 90))"
)


def test_a_repeated_query_is_translated_once(engine: TapEngine, translations: list[str]) -> None:
    adql = CONE.format(ra=11.5)
    assert rows(engine, adql) == rows(engine, adql) > 0
    assert translations == [adql]


def test_the_row_limit_is_part_of_the_key(engine: TapEngine, translations: list[str]) -> None:
    adql = CONE.format(ra=12.5)
    assert [rows(engine, adql, maxrec=m) for m in (3, 7, 3)] == [3, 7, 3]
    assert len(translations) == 2


def test_a_reread_catalogue_translates_again(engine: TapEngine, translations: list[str]) -> None:
    adql = CONE.format(ra=13.5)
    rows(engine, adql)
    engine.catalogue.ttl_s = 0  # the next request reads TAP_SCHEMA again
    try:
        rows(engine, adql)
    finally:
        engine.catalogue.ttl_s = 3600
    rows(engine, adql)
    assert len(translations) == 2


def test_long_queries_and_uploads_are_not_kept(
    engine: TapEngine, translations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    adql = CONE.format(ra=14.5)
    monkeypatch.setattr(query, "MEMO_QUERY_CHARS", len(adql) - 1)
    rows(engine, adql)
    rows(engine, adql)
    catalog = engine.catalog()
    for _ in range(2):  # an upload's relation name differs per request
        query._translation(engine, "SELECT * FROM TAP_UPLOAD.t", catalog, 10, {"t": "up_1"})
    assert len(translations) == 4


def test_a_cone_at_a_new_centre_is_written_from_its_shape(
    engine: TapEngine, translations: list[str]
) -> None:
    near = CONE.replace("{ra}, 0, 90))", "{ra}, 24.5, 1.5))")  # cones the fine cover serves
    first, second = near.format(ra=56.5), near.format(ra=57.25)
    assert rows(engine, first) > 0
    assert translations == [first]  # learnt from it (and from its twin, not counted here)
    expected = rows_of(engine, query.translate(second, engine.catalog(), row_limit=10_001).sql)
    translations.clear()
    assert rows(engine, second) == expected > 0
    assert translations == []  # parsed and checked once per shape, not per centre


def rows_of(engine: TapEngine, sql: str) -> int:
    conn = engine.getconn()
    try:
        return len(conn.execute(sql).fetchall())
    finally:
        engine.putconn(conn)

"""Cone queries written from a kept shape (``tap_service.adql.cone_shape``) are exactly what
translating them gives: the same SQL, character for character, the same columns, the same
errors; the lexical gate still sees every query; and only shapes that pass the check are kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from tap_service.adql import AdqlError, AdqlSecurityError, translate
from tap_service.adql import cone_shape as shapes_module
from tap_service.adql.cone_shape import ConeShapes, cone_numbers
from tap_service.catalog import Catalog, ColumnInfo, TableInfo


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    def columns(*specs: tuple[str, str]) -> dict[str, ColumnInfo]:
        return {n: ColumnInfo(name=n, datatype=t, indexed=n in ("ra", "dec")) for n, t in specs}

    stars = columns(("source_id", "long"), ("ra", "double"), ("dec", "double"), ("mag", "float"))
    spectra = columns(("source_id", "long"), ("ew", "double"), ("ra", "double"), ("dec", "double"))
    return Catalog.of(
        [TableInfo("xpha", "stars", None, stars), TableInfo("xpha", "spectra", None, spectra)],
        published_schema="xpha",
    )


FORMS = [  # (query with {ra} {dec} {r}, whether its shape is written from a template)
    (
        "SELECT source_id, ra, dec FROM xpha.stars AS s WHERE 1 = CONTAINS(POINT('ICRS', s.ra,"
        " s.dec), CIRCLE('ICRS', {ra}, {dec}, {r}))",
        True,
    ),
    (
        "SELECT TOP 5 * FROM xpha.stars WHERE CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {r})) = 1"
        " AND mag < 3",
        True,
    ),
    ("SELECT * FROM xpha.stars WHERE 0 = CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {r}))", True),
    (
        "SELECT COUNT(*) FROM xpha.stars WHERE 1 = INTERSECTS(CIRCLE('ICRS', {ra}, {dec}, {r}),"
        " POINT(ra, dec))",
        True,
    ),
    (
        "SELECT s.source_id FROM xpha.stars AS s JOIN xpha.spectra AS p ON s.source_id ="
        " p.source_id WHERE 1 = CONTAINS(POINT(p.ra, p.dec), CIRCLE({ra}, {dec}, {r}))",
        True,
    ),
    ("SELECT CIRCLE('ICRS', {ra}, {dec}, {r}) AS c FROM xpha.stars", False),  # not a cone search
    (
        "SELECT * FROM xpha.stars WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {r}))"
        " OR 1 = CONTAINS(POINT(ra, dec), CIRCLE(1, 2, 0.1))",
        None,
    ),  # two: never a shape
    ("SELECT * FROM xpha.stars WHERE 1 = CONTAINS(POINT({ra}, {dec}), CIRCLE(ra, dec, {r}))", None),
]
RADII = [
    "{r:.5f}",
    "{r:.2e}",
    "1",
    "30",
    "30.5",
    "0",
    "-1",
    "5/60.",
    ".5",
    "1e400",
    "2147483648",
    "1e-308",
]
CENTRES = ["{ra:.6f}", "{ra_int}", "{ra:.3e}", "{ra!r}", "-{ra:.2f}"]


def random_queries(n: int, seed: int) -> list[str]:
    """Cone queries of every form at random centres, radii and spellings, good and bad."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ra, dec, r = rng.uniform(-10, 370), rng.uniform(-95, 95), 10 ** rng.uniform(-4, 1.7)
        text = {"ra": ra, "ra_int": int(ra), "r": r}
        form = FORMS[rng.integers(len(FORMS))][0]
        out.append(
            form.format(
                ra=CENTRES[rng.integers(len(CENTRES))].format(**text),
                dec=f"{dec:.5f}",
                r=RADII[rng.integers(len(RADII))].format(**text),
            )
        )
    return out


def outcome(translate_one, adql: str) -> tuple:
    try:
        result = translate_one(adql)
    except AdqlError as error:
        return ("error", type(error).__name__, str(error))
    return (result.sql, result.columns)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_query_reads_as_its_full_translation(catalog: Catalog, seed: int) -> None:
    shapes = ConeShapes(256)
    queries = random_queries(1500, seed)
    for adql in queries:
        full = outcome(lambda q: translate(q, catalog, row_limit=1001), adql)
        assert outcome(lambda q: shapes.translate(q, catalog, 1001), adql) == full, adql
    kept = [shape for _, shape in shapes._shapes._known.values()]
    assert sum(shape.template is not None for shape in kept) >= 5  # the test exercised them


@pytest.mark.parametrize(("form", "templated"), FORMS)
def test_which_shapes_are_written_from_a_template(
    catalog: Catalog, form: str, templated: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes = ConeShapes(16)
    first = form.format(ra="56.75", dec="24.12", r="0.5")
    second = form.format(ra="201.125", dec="43.0625", r="0.25")  # a minus would be another shape
    shapes.translate(first, catalog, 1001)
    calls: list[str] = []
    real = shapes_module.translate

    def counting(adql: str, *args, **kwargs):
        calls.append(adql)
        return real(adql, *args, **kwargs)

    monkeypatch.setattr(shapes_module, "translate", counting)
    assert shapes.translate(second, catalog, 1001) == translate(second, catalog, row_limit=1001)
    assert calls == ([] if templated else [second])
    kept = [shape for _, shape in shapes._shapes._known.values()]
    assert [shape.template is not None for shape in kept] == (
        [] if templated is None else [templated]
    )


def test_the_gate_sees_every_query(catalog: Catalog) -> None:
    """A character the lexical gate refuses is refused even where the tokens match a kept
    shape (the tokenizer alone would read a no-break space as a space)."""
    shapes = ConeShapes(16)
    clean = FORMS[0][0].format(ra="10", dec="20", r="0.5")
    shapes.translate(clean, catalog, 1001)
    hostile = clean.replace("WHERE 1", "WHERE\u00a01").replace("10,", "11,")
    with pytest.raises(AdqlSecurityError, match="U\\+00A0") as caught:
        shapes.translate(hostile, catalog, 1001)
    with pytest.raises(AdqlSecurityError) as direct:
        translate(hostile, catalog, row_limit=1001)
    assert str(caught.value) == str(direct.value)


def test_errors_are_the_translators_and_nothing_is_kept(catalog: Catalog) -> None:
    shapes = ConeShapes(16)
    wrong = FORMS[0][0].replace("source_id,", "no_such_column,").format(ra=1, dec=2, r=0.5)
    for _ in range(2):
        with pytest.raises(AdqlError, match="no_such_column"):
            shapes.translate(wrong, catalog, 1001)
    assert not shapes._shapes._known


@pytest.mark.parametrize(
    ("adql", "numbers"),
    [
        (
            "SELECT * FROM t WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE('ICRS', -10.5, 2e1, 7))",
            [("10.5", True), ("2e1", False), ("7", False)],
        ),
        (
            "SELECT * FROM t WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(1, -2, 3))",
            [("1", False), ("2", True), ("3", False)],
        ),
        ("SELECT * FROM t WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(1 + 1, 2, 3))", None),
        ("SELECT * FROM t WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(POINT(1, 2), 3))", None),
        ("SELECT * FROM t WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(1, 2, .5))", None),
        ("SELECT 'CIRCLE(1, 2, 3)' FROM t", None),  # a string, not a CIRCLE
        ("SELECT * FROM t -- CIRCLE(1, 2, 3)", None),  # a comment
        ("SELECT * FROM t WHERE x = 1; CIRCLE(1, 2, 3)", None),  # refused by the gate
    ],
)
def test_the_numbers_of_a_cone(adql: str, numbers: list[tuple[str, bool]] | None) -> None:
    found = cone_numbers(adql)
    if numbers is None:
        assert found is None
        return
    assert found is not None
    assert [(n.text, n.negative) for n in found[1]] == numbers
    assert [adql[n.start : n.end] for n in found[1]] == [text for text, _ in numbers]

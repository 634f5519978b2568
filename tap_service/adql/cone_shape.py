"""Cone queries translated once per shape, whatever their centre and radius.

A cone search is the query clients send most, each time at another centre (TOPCAT's cone
window, pyvo scripts walking a list of targets). Translating it costs ~1.7 ms (parse, the
allow-list, name resolution, rewriting) of which only the cone's cover depends on its numbers.
So a query whose one CIRCLE has three plain numbers (ra, dec, radius) is translated once per
*shape*: its tokens, those three numbers left out. The shape is learnt from a twin query with
stand-in numbers whose cone is left as a placeholder (``translate.Draft``); a later query of
the shape gets that SQL with its own cone's cover written in (``sql.q3c_cover.cone_predicate``,
as the translator writes every cover).

Why this is the same translation: the parser sees only tokens, so two queries with the same
tokens but for three numbers parse to the same tree but for three literals, and every query
passes the lexical gate itself (``dialect.check_query_text``). A shape is kept only if the
twin's SQL holds its cone as its one placeholder and none of its stand-in numbers, and if
writing the first query's own cone into it gives exactly the SQL translating that query gave;
otherwise the shape is kept as one that translates in full. A cone the cover does not serve
(too wide, a pole beyond 90°, radius 0) translates in full.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from sql.q3c_cover import cone_cover
from tap_service.adql.dialect import Adql, check_query_text
from tap_service.adql.errors import AdqlError
from tap_service.adql.geometry import SpelledCone, number_value
from tap_service.adql.translate import Translation, draft, translate
from tap_service.catalog import Catalog
from tap_service.memo import Memo

# The twin's stand-in (ra, dec, radius): exact in binary, so their text survives every step.
STAND_INS = ("97.03125", "41.015625", "0.0078125")


@dataclass(frozen=True)
class ConeNumber:
    """One of the CIRCLE's three numbers: where its digits lie in the text, and its sign."""

    start: int
    end: int  # exclusive
    text: str
    negative: bool

    @property
    def value(self) -> float | None:
        literal = exp.Literal.number(self.text)
        return number_value(exp.Neg(this=literal) if self.negative else literal)


@dataclass(frozen=True)
class Template:
    """The SQL of a shape, its cone a placeholder, and the result columns."""

    draft_sql: str
    cone: SpelledCone
    translation: Translation  # columns shared by every query of the shape

    def render(self, numbers: tuple[ConeNumber, ...]) -> Translation | None:
        """The translation of the query with these numbers, or None where the cover does not
        serve the cone."""
        cone = _served_cone(numbers)
        if cone is None:
            return None
        return Translation(
            sql=self.cone.spell(self.draft_sql, *cone), columns=self.translation.columns
        )


@dataclass(frozen=True)
class Shape:
    template: Template | None  # None: queries of this shape translate in full


class ConeShapes:
    """Kept shapes of cone queries, per catalogue (``Memo``)."""

    def __init__(self, size: int) -> None:
        self._shapes: Memo[Shape | None] = Memo(size)

    def clear(self) -> None:
        self._shapes.clear()

    def translate(self, adql: str, catalog: Catalog, row_limit: int) -> Translation:
        """``translate(adql, catalog, row_limit=row_limit)``, through the query's kept shape
        where it has one."""
        found = cone_numbers(adql)
        if found is None:
            return translate(adql, catalog, row_limit=row_limit)
        key, numbers = found
        learnt: list[Translation] = []

        def learn() -> Shape | None:
            full = translate(adql, catalog, row_limit=row_limit)  # errors pass through
            learnt.append(full)
            if _served_cone(numbers) is None:
                return None  # nothing to learn from: the next query of the shape tries
            return Shape(_template(adql, numbers, catalog, row_limit, full))

        shape = self._shapes.get((key, row_limit), catalog, learn)
        if learnt:
            return learnt[0]
        rendered = shape.template.render(numbers) if shape and shape.template else None
        return rendered or translate(adql, catalog, row_limit=row_limit)


def cone_numbers(adql: str) -> tuple[Hashable, tuple[ConeNumber, ...]] | None:
    """(shape, numbers) of a query with one CIRCLE of three plain numbers, else None."""
    if "circle" not in adql.lower():
        return None
    try:
        check_query_text(adql)
        tokens = Adql().tokenize(adql)
    except (AdqlError, TokenError):
        return None  # translating in full reports it
    found = [
        numbers
        for i, token in enumerate(tokens)
        if token.token_type == TokenType.VAR and token.text.upper() == "CIRCLE"
        if (numbers := _circle_numbers(tokens, i + 1)) is not None
    ]
    if len(found) != 1:
        return None
    positions = dict(found[0])
    shape = tuple((t.token_type, None if i in positions else t.text) for i, t in enumerate(tokens))
    return shape, tuple(positions.values())


def _circle_numbers(tokens: list[Token], i: int) -> list[tuple[int, ConeNumber]] | None:
    """The (token index, number) of the ra, dec and radius of ``CIRCLE(`` at ``tokens[i]``
    when each is a plain number, optionally negative; else None."""
    if i >= len(tokens) or tokens[i].token_type != TokenType.L_PAREN:
        return None
    i += 1
    if i + 1 < len(tokens) and tokens[i].token_type == TokenType.STRING:
        if tokens[i + 1].token_type != TokenType.COMMA:
            return None
        i += 2
    out: list[tuple[int, ConeNumber]] = []
    for k in range(3):
        negative = i < len(tokens) and tokens[i].token_type == TokenType.DASH
        i += negative
        if i + 1 >= len(tokens) or tokens[i].token_type != TokenType.NUMBER:
            return None
        closing = TokenType.R_PAREN if k == 2 else TokenType.COMMA
        if tokens[i + 1].token_type != closing:
            return None
        token = tokens[i]
        out.append((i, ConeNumber(token.start, token.end + 1, token.text, negative)))
        i += 2
    return out


def _served_cone(numbers: tuple[ConeNumber, ...]) -> tuple[float, float, float] | None:
    """(ra, dec, radius) of these numbers where the fine cover serves that cone, else None."""
    ra, dec, radius = (n.value for n in numbers)
    if ra is None or dec is None or radius is None:
        return None
    try:
        cone_cover(ra, dec, radius)
    except ValueError:
        return None
    return ra, dec, radius


def _template(
    adql: str,
    numbers: tuple[ConeNumber, ...],
    catalog: Catalog,
    row_limit: int,
    full: Translation,
) -> Template | None:
    """The shape's template, learnt from a twin of ``adql`` with stand-in numbers, or None
    when the twin's SQL does not hold exactly its one cone as a placeholder or writing this
    query's own cone into it does not give ``full``, this query's translation."""
    twin = adql
    for number, stand_in in sorted(zip(numbers, STAND_INS, strict=True), key=lambda p: -p[0].start):
        twin = twin[: number.start] + stand_in + twin[number.end :]
    try:
        twin_draft = draft(twin, catalog, row_limit=row_limit)
    except AdqlError:  # never seen: the twin differs only in three numbers
        return None
    if len(twin_draft.cones) != 1:
        return None
    spelled, cone = twin_draft.cones[0]
    stand_ins = tuple(float(s) for s in STAND_INS)
    if (abs(cone.ra), abs(cone.dec), abs(cone.radius)) != stand_ins:
        return None
    if any(s in twin_draft.sql for s in STAND_INS):
        return None
    template = Template(twin_draft.sql, spelled, full)
    rendered = template.render(numbers)
    return template if rendered is not None and rendered.sql == full.sql else None

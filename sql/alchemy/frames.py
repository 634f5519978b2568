"""Query results as pandas and astropy tables that keep the published units.

``pandas.read_sql`` gives values only; the units, UCDs and descriptions live on the published
columns (:mod:`sql.alchemy.tables`, from the one description). ``units_of`` follows each
selected column back to the published column it comes from (through labels, subqueries and
CTEs) or to a type that knows its unit (``distance``: degrees); an expression whose unit cannot
be known (``ra * 2``, ``avg(mag)``) gets none rather than a guess.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from astropy.table import Table
from sqlalchemy import Column
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import Label


def _described(selected: Any) -> dict[str, str | None]:
    """The info (unit, ucd, description) of the published column behind a selected one."""
    for candidate in (selected, getattr(selected, "element", None)):
        unit = getattr(getattr(candidate, "type", None), "unit", None)
        if unit:
            return {"unit": unit}
    for base in selected.proxy_set:
        if isinstance(base, Column) and base.info.get("description"):
            return base.info
    return {}


def column_info(statement: Select) -> list[dict[str, str | None]]:
    """Per selected column, in order: its unit, UCD and description (where known)."""
    return [_described(c) for c in statement.selected_columns]


def units_of(statement: Select) -> dict[str, str]:
    """Per named result column (a column or a label), its unit, where it has one."""
    return {
        c.name: unit
        for c, info in zip(statement.selected_columns, column_info(statement), strict=True)
        if isinstance(c, (Column, Label)) and (unit := info.get("unit"))
    }


def read_frame(connection: Connection, statement: Select) -> pd.DataFrame:
    """``pandas.read_sql`` with the units in ``frame.attrs["units"]`` (and UCDs, descriptions)."""
    frame = pd.read_sql(statement, connection)
    info = dict(zip(frame.columns, column_info(statement), strict=True))
    for key in ("unit", "ucd", "description"):
        frame.attrs[key + "s"] = {name: i[key] for name, i in info.items() if i.get(key)}
    return frame


def read_table(connection: Connection, statement: Select) -> Table:
    """The result as an astropy ``Table`` with units, descriptions and UCDs (``meta["ucd"]``)."""
    frame = read_frame(connection, statement)
    table = Table.from_pandas(frame, units=frame.attrs["units"])
    for name, description in frame.attrs["descriptions"].items():
        table[name].description = description
    for name, ucd in frame.attrs["ucds"].items():
        table[name].meta["ucd"] = ucd
    return table

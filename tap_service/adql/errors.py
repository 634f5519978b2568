"""Errors of ADQL translation: each names the line, column and token it is about."""

from __future__ import annotations

from sql.errors import XphaError


class AdqlError(XphaError):
    """The query is not valid ADQL, or names something the catalogue does not have."""

    def __init__(self, message: str, line: int = 0, column: int = 0, token: str = "") -> None:
        self.line, self.column, self.token, self.reason = line, column, token, message
        where = f"line {line}, column {column}: " if line else ""
        near = f" near '{token}'" if token else ""
        super().__init__(f"{where}{message}{near}")


class AdqlSecurityError(AdqlError):
    """The query uses a construct the service refuses (not on the allow-list)."""


def at_node(node: object) -> tuple[int, int, str]:
    """(line, column, token) of a parsed node: its first identifier that knows its position."""
    from sqlglot import exp

    if isinstance(node, exp.Expr):
        candidates = [node] if isinstance(node, exp.Identifier) else []
        candidates += list(node.find_all(exp.Identifier))
        placed = []
        for ident in candidates:
            meta = ident.meta
            if "line" in meta:
                width = meta["end"] - meta["start"]
                placed.append((meta["line"], max(1, meta["col"] - width), ident.this))
        if placed:
            return min(placed)
        name = getattr(node, "name", "") or node.sql()
        return 0, 0, str(name)[:40]
    return 0, 0, ""

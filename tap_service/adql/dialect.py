"""ADQL 2.1 as a sqlglot dialect, behind a lexical gate that only lets ADQL's own characters in.

The gate walks the raw text once: string literals ('...' with '' escapes), quoted identifiers
("..." with "" escapes) and ``--`` comments are skipped; everything else must be an ADQL
character. So ``;``, ``$$`` dollar quoting, ``::`` casts, ``/* */`` comments, ``U&`` unicode
escapes, ``E'...'`` backslash strings' friends ``\\``, ``@``, ``#``, ``?`` and ``[]`` never
reach the parser. The parser is sqlglot's ANSI grammar with ``TOP``; only ``--`` comments.
"""

from __future__ import annotations

import re
from typing import ClassVar

from sqlglot import exp, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from tap_service.adql.errors import AdqlError, AdqlSecurityError


class Adql(Dialect):
    """sqlglot's dialect for ADQL: ANSI SQL plus TOP, with ``--`` as the only comment."""

    NULL_ORDERING = "nulls_are_large"  # as PostgreSQL: no NULLS FIRST/LAST added
    TYPED_DIVISION = True  # integer / integer stays PostgreSQL's integer division

    class Tokenizer(tokens.Tokenizer):
        KEYWORDS: ClassVar[dict[str, TokenType]] = {
            **tokens.Tokenizer.KEYWORDS,
            "TOP": TokenType.TOP,
        }
        COMMENTS: ClassVar[list[str | tuple[str, str]]] = ["--"]
        HEX_STRINGS: ClassVar[list[str | tuple[str, str]]] = [("0x", ""), ("0X", "")]
        NESTED_COMMENTS = False


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# One pass over the text: literals and comments are skipped whole, runs of ADQL characters
# in one step; whatever matches ``other`` is refused (an unterminated literal or a stranger).
_LEXEMES = re.compile(
    r"""(?P<literal>'(?:[^']|'')*'|"(?:[^"]|"")*")"""
    r"|(?P<comment>--[^\n]*)"
    r"|[A-Za-z0-9_ \t\r\n\f(),.*+=<>%]+|/(?!\*)|-|!=|\|\|"
    r"|(?P<other>/\*|.)",
    re.S,
)


def check_characters(adql: str) -> None:
    """Refuse any character ADQL does not use outside literals; unterminated literals too."""
    if "\x00" in adql:
        line, col = _position(adql, adql.index("\x00"))
        raise AdqlSecurityError("NUL character in the query", line, col, "U+0000")
    for match in _LEXEMES.finditer(adql):
        other = match.group("other")
        if other is None:
            continue
        line, col = _position(adql, match.start())
        if other in ("'", '"'):
            kind = "string literal" if other == "'" else "quoted identifier"
            start = match.start()
            raise AdqlError(f"unterminated {kind}", line, col, adql[start : start + 20])
        if other == "/*":
            raise AdqlSecurityError("/* */ comments are not ADQL (use --)", line, col, "/*")
        if other == ";":
            raise AdqlSecurityError("';' is not allowed: one statement only", line, col, ";")
        if other == "|":
            raise AdqlSecurityError("character '|' is not ADQL (did you mean ||?)", line, col, "|")
        shown = other if other.isprintable() else f"U+{ord(other):04X}"
        raise AdqlSecurityError(f"character '{shown}' is not allowed in ADQL", line, col, shown)


def check_query_text(adql: str) -> None:
    """The lexical gate: not empty, only ADQL's characters, and a query (SELECT or WITH)."""
    if not adql or not adql.strip():
        raise AdqlError("the query is empty")
    check_characters(adql)
    _check_first_word(adql)


_HIGHLIGHT = re.compile(r"\x1b\[4m(.*?)\x1b\[0m", re.S)


def parse(adql: str) -> exp.Expr:
    """The parsed tree of one ADQL query, or an AdqlError naming line, column and token."""
    check_query_text(adql)
    try:
        trees = Adql().parse(adql)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        token = first.get("highlight") or ""
        message = str(first.get("description") or "")
        detail = "incomplete expression" if "<class" in message else message.rstrip(".")
        raise AdqlError(
            f"syntax error ({detail})" if detail else "syntax error",
            int(first.get("line") or 0),
            max(1, int(first.get("col") or 0) - len(token) + 1),
            token,
        ) from None
    except TokenError as exc:
        raise AdqlError(f"cannot read the query: {exc}") from None
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise AdqlSecurityError("exactly one statement is allowed")
    return statements[0]


_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$))*(\(*)\s*([A-Za-z_]*)")


def _check_first_word(adql: str) -> None:
    """Only queries: refuse INSERT, SET, COPY, DROP, ... before the parser sees them."""
    match = _FIRST_WORD.match(adql)
    word = match.group(2) if match else ""
    if not word and (not match or not adql[match.end() :].strip()):
        raise AdqlError("the query is empty")
    if word.upper() not in ("SELECT", "WITH"):
        index = match.start(2) if match else 0
        line, col = _position(adql, index)
        raise AdqlSecurityError("only SELECT queries are allowed", line, col, word or adql[index])

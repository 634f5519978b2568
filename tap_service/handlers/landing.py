"""``/``: a small HTML page for people: the tables (with sizes), examples, how to connect."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from tap_service import vosi
from tap_service.catalog import Catalog, TableInfo
from tap_service.handlers.vosi import tap_base
from tap_service.query import TapEngine
from tap_service.table_sizes import TableSize, table_size

router = APIRouter()

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xpha: H-alpha emitters in Gaia XP</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}}pre{{background:#f4f4f4;padding:.6em;overflow-x:auto}}
td.n{{text-align:right;white-space:nowrap}}</style></head>
<body><h1>xpha</h1>
<p>H-alpha emission-line star candidates found in Gaia DR3 BP/RP (XP) spectra, served over
IVOA TAP 1.1 (ADQL) and Simple Cone Search.</p>
<ul><li>TAP service: <a href="{tap}"><code>{tap}</code></a>
(<a href="{tap}/capabilities">capabilities</a>, <a href="{tap}/tables">tables</a>,
<a href="{tap}/examples">examples</a>, <a href="{tap}/availability">availability</a>)</li>
<li>Cone search: <code>{scs}?RA=56.75&amp;DEC=24.12&amp;SR=0.5</code></li></ul>
<h2>Tables</h2>
<table><tr><th>table</th><th>rows</th><th>description</th></tr>
{tables}</table>
<h2>From Python</h2>
<pre>import pyvo
tap = pyvo.dal.TAPService("{tap}")
rows = tap.run_sync("SELECT TOP 10 * FROM xpha.emitter_candidates ORDER BY score DESC")
print(rows.to_table())</pre>
<p>In TOPCAT: VO &rarr; Table Access Protocol (TAP) Query, TAP URL <code>{tap}</code>.</p>
<h2>Examples</h2>
{examples}
</body></html>
"""


def _table_sizes(engine: TapEngine, tables: list[TableInfo]) -> dict[str, TableSize | None]:
    """Each table's size as the TAP role sees it (see tap_service.table_sizes)."""
    conn = engine.getconn()
    try:
        return {table.tap_name: table_size(conn, table.tap_name) for table in tables}
    finally:
        engine.putconn(conn)


def render_landing(tap: str, scs: str, catalog: Catalog,
                   sizes: dict[str, TableSize | None]) -> str:
    rows = []
    for _, tables in catalog.tableset():
        for table in tables:
            name = table.tap_name
            size = sizes.get(name)
            rows.append(
                f"<tr><td><a href=\"{escape(tap)}/tables/{escape(name)}\"><code>"
                f"{escape(name)}</code></a></td><td class=\"n\">"
                f"{'' if size is None else size}</td>"
                f"<td>{escape(table.description or '')}</td></tr>"
            )
    examples = "\n".join(
        f"<h3>{escape(e.name)}</h3><p>{escape(e.description)}</p><pre>{escape(e.query)}</pre>"
        for e in vosi.EXAMPLES
    )
    return PAGE.format(tap=escape(tap), scs=escape(scs), tables="\n".join(rows), examples=examples)


@router.get("/", response_class=HTMLResponse)
@router.get("/tap", response_class=HTMLResponse)
@router.get("/tap/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    engine = request.app.state.engine
    tap = tap_base(request)

    def gather() -> tuple[Catalog, dict[str, TableSize | None]]:
        catalog = engine.catalog()
        tables = [t for _, tables in catalog.tableset() for t in tables]
        return catalog, _table_sizes(engine, tables)

    catalog, sizes = await run_in_threadpool(gather)
    return HTMLResponse(render_landing(tap, tap.removesuffix("/tap") + "/scs", catalog, sizes))

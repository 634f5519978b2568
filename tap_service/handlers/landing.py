"""``/``: a small HTML page for people: pictures of the candidates, the tables (with their
true sizes), examples, how to connect; ``/plots/{sky,cmd,excess}.png`` are its pictures."""

from __future__ import annotations

import math
from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from sql import candidate_summary
from tap_service import landing_pictures, vosi
from tap_service.catalog import Catalog
from tap_service.errors import NotFoundFault, UsageFault
from tap_service.handlers.vosi import tap_base

router = APIRouter()
DEFAULT_THRESHOLD = 0.5
EDGES = ", ".join(f"{e:g}" for e in candidate_summary.PROBABILITY_EDGES)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xpha: H-alpha emitters in Gaia XP</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}}pre{{background:#f4f4f4;padding:.6em;overflow-x:auto}}
td.n{{text-align:right;white-space:nowrap}}img{{max-width:100%;height:auto}}
figure{{margin:1em 0}}figcaption{{color:#555;font-size:.9em}}</style></head>
<body><h1>xpha</h1>
<p>H-alpha emission-line star candidates found in Gaia DR3 BP/RP (XP) spectra, served over
IVOA TAP 1.1 (ADQL) and Simple Cone Search.</p>
<ul><li>TAP service: <a href="{tap}"><code>{tap}</code></a>
(<a href="{tap}/capabilities">capabilities</a>, <a href="{tap}/tables">tables</a>,
<a href="{tap}/examples">examples</a>, <a href="{tap}/availability">availability</a>)</li>
<li>Cone search: <code>{scs}?RA=56.75&amp;DEC=24.12&amp;SR=0.5</code></li></ul>
<h2>The candidates</h2>
{candidates}
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

CANDIDATES = """<p>{about}</p>
<form method="get" action="{page}"><label>Probability &ge;
<input name="threshold" value="{threshold}" size="6" inputmode="decimal"></label>
<button type="submit">redraw</button>
<small>(a threshold snaps down to one of {edges})</small></form>
{figures}"""

FIGURE = """<figure id="{name}"><img src="{src}" alt="{caption}" width="720" height="420">
<figcaption>{caption}</figcaption></figure>"""


def parse_threshold(request: Request) -> float:
    """THRESHOLD (any case): a probability in [0, 1]; 0.5 when absent."""
    given = {k.lower(): v for k, v in request.query_params.items()}.get("threshold")
    if given is None or given.strip() == "":
        return DEFAULT_THRESHOLD
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise UsageFault(f"THRESHOLD={given[:40]!r} must be a probability between 0 and 1")
    return value


def _root(request: Request) -> str:
    """The service's public root (where / and /plots live), from the TAP base URL."""
    return tap_base(request).removesuffix("/tap")


def render_candidates(
    root: str, threshold: float, summary: candidate_summary.Summary | None, above: int
) -> str:
    _, edge = candidate_summary.threshold_bin(threshold)
    if summary is None or summary.n_rows == 0:
        about = (
            "No scored candidates yet: <code>xpha train compare</code> then <code>xpha"
            " score current</code>."
        )
    else:
        about = (
            f"{summary.n_rows:,} sources scored by the current model"
            f" <code>{escape(summary.model_name or 'none')}</code>;"
            f" <b>{above:,}</b> with probability &ge; {edge:g}. Counted when the data"
            f" last changed ({summary.refreshed_at:%Y-%m-%d %H:%M:%S %Z})."
        )
    figures = "\n".join(
        FIGURE.format(
            name=name,
            caption=escape(f"{caption}, probability ≥ {edge:g}"),
            src=escape(f"{root}/plots/{name}.png?threshold={edge:g}"),
        )
        for name, caption in landing_pictures.PICTURES.items()
    )
    return CANDIDATES.format(
        about=about, page=escape(root + "/"), threshold=f"{edge:g}", edges=EDGES, figures=figures
    )


def render_landing(tap: str, scs: str, catalog: Catalog, candidates: str) -> str:
    rows = []
    for _, tables in catalog.tableset():
        for table in tables:
            name = table.tap_name
            size = "" if table.nrows is None else f"{table.nrows:,}"
            rows.append(
                f'<tr><td><a href="{escape(tap)}/tables/{escape(name)}"><code>'
                f'{escape(name)}</code></a></td><td class="n">{size}</td>'
                f"<td>{escape(table.description or '')}</td></tr>"
            )
    examples = "\n".join(
        f"<h3>{escape(e.name)}</h3><p>{escape(e.description)}</p><pre>{escape(e.query)}</pre>"
        for e in vosi.EXAMPLES
    )
    return PAGE.format(
        tap=escape(tap),
        scs=escape(scs),
        candidates=candidates,
        tables="\n".join(rows),
        examples=examples,
    )


def _cache(request: Request) -> landing_pictures.PictureCache:
    state = request.app.state
    if not hasattr(state, "pictures"):
        state.pictures = landing_pictures.PictureCache()
    return state.pictures


@router.get("/", response_class=HTMLResponse)
@router.get("/tap", response_class=HTMLResponse)
@router.get("/tap/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    engine = request.app.state.engine
    threshold = parse_threshold(request)
    tap, root, cache = tap_base(request), _root(request), _cache(request)

    def gather() -> tuple[Catalog, str]:
        catalog = engine.catalog()
        conn = engine.getconn()
        try:
            summary = candidate_summary.read_summary(conn)
            above = landing_pictures.candidates_above(conn, threshold, cache)
            return catalog, render_candidates(root, threshold, summary, above)
        finally:
            engine.putconn(conn)

    catalog, candidates = await run_in_threadpool(gather)
    return HTMLResponse(render_landing(tap, root + "/scs", catalog, candidates))


@router.get("/plots/{name}.png")
async def plot(request: Request, name: str) -> Response:
    if name not in landing_pictures.PICTURES:
        raise NotFoundFault(
            f"no picture {name!r}; the pictures are "
            + ", ".join(f"{p}.png" for p in landing_pictures.PICTURES)
        )
    engine = request.app.state.engine
    threshold = parse_threshold(request)
    cache = _cache(request)

    def draw() -> bytes:
        conn = engine.getconn()
        try:
            return landing_pictures.picture(conn, name, threshold, cache)
        finally:
            engine.putconn(conn)

    png = await run_in_threadpool(draw)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=60"})

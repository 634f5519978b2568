"""IVOA Simple Cone Search (1.03, with the 1.1 MAXREC/RESPONSEFORMAT) over emitter candidates.

A cone reads the Q3C pixel ranges of its fine cover (``sql.q3c_cover``: a few constant ranges,
cheap to plan, unlike ``q3c_radial_query`` on a partitioned table, and ~2x the cone's rows
where ``q3c_join`` reads ~8x) on the published candidate view, run as the TAP
role like any TAP query. The result FIELDs carry the UCD1 names SCS 1.03 requires (exactly one
``ID_MAIN``, ``POS_EQ_RA_MAIN``, ``POS_EQ_DEC_MAIN``: pyvo's ``.id``/``.pos`` read these); the
other FIELDs use UCD1+. Errors are VOTables with ``INFO name="Error"`` under VOTABLE, where
SCS clients look, plus ``QUERY_STATUS=ERROR`` for DALI-minded ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from xml.sax.saxutils import escape, quoteattr

import psycopg
from psycopg import sql

from sql.q3c_cover import cone_cover, distance_limit
from tap_service.errors import UsageFault
from tap_service.query import (
    QueryResult,
    TapEngine,
    database_fault,
    limited_batches,
    row_stream,
)
from tap_service.writers import FieldSpec, ResultStatus, get_writer


@dataclass(frozen=True)
class ConeColumn:
    """An output column: its SQL over the candidate view and its FIELD."""

    expression: str
    field: FieldSpec
    verbosity: int


COLUMNS = (
    ConeColumn(
        "source_id::text",
        FieldSpec("source_id", "char", "*", None, "ID_MAIN", "Gaia DR3 unique source identifier"),
        1,
    ),
    ConeColumn(
        "ra",
        FieldSpec(
            "ra", "double", None, "deg", "POS_EQ_RA_MAIN", "Right ascension (ICRS), epoch 2016.0"
        ),
        1,
    ),
    ConeColumn(
        "dec",
        FieldSpec(
            "dec", "double", None, "deg", "POS_EQ_DEC_MAIN", "Declination (ICRS), epoch 2016.0"
        ),
        1,
    ),
    ConeColumn(
        "score",
        FieldSpec(
            "score", "float", None, None, "stat.value", "Raw emitter score of the current model"
        ),
        2,
    ),
    ConeColumn(
        "probability",
        FieldSpec(
            "probability",
            "float",
            None,
            None,
            "stat.probability",
            "Calibrated probability of being an H-alpha emitter",
        ),
        2,
    ),
    ConeColumn(
        "halpha_excess_ew",
        FieldSpec(
            "halpha_excess_ew",
            "float",
            None,
            "Angstrom",
            "spect.line.eqWidth;em.line.Halpha",
            "H-alpha EW over the continuum predicted from the XP spectrum (emission > 0)",
        ),
        2,
    ),
    ConeColumn(
        "halpha_excess_snr",
        FieldSpec(
            "halpha_excess_snr",
            "float",
            None,
            None,
            "stat.snr;em.line.Halpha",
            "Signal-to-noise ratio of the H-alpha excess",
        ),
        2,
    ),
    ConeColumn(
        "phot_g_mean_mag",
        FieldSpec(
            "phot_g_mean_mag", "float", None, "mag", "phot.mag;em.opt", "Gaia G mean magnitude"
        ),
        2,
    ),
    ConeColumn(
        "bp_rp",
        FieldSpec(
            "bp_rp", "float", None, "mag", "phot.color;em.opt.B;em.opt.R", "Gaia BP - RP colour"
        ),
        2,
    ),
    ConeColumn(
        "q3c_dist(ra, dec, %(ra)s, %(dec)s)",
        FieldSpec(
            "dist", "double", None, "deg", "pos.angDistance", "Distance from the cone centre"
        ),
        2,
    ),
    ConeColumn(
        "model_id",
        FieldSpec("model_id", "int", None, None, "meta.id", "Model that produced the score"),
        3,
    ),
    ConeColumn(
        "model_kind",
        FieldSpec("model_kind", "char", "*", None, "meta.code", "Kind of the current model"),
        3,
    ),
    ConeColumn(
        "model_version",
        FieldSpec(
            "model_version", "char", "*", None, "meta.version", "Version of the current model"
        ),
        3,
    ),
)


@dataclass(frozen=True)
class ConeRequest:
    ra: float
    dec: float
    sr: float
    verb: int = 2
    maxrec: int | None = None
    responseformat: str = "votable"


def parse_cone_request(params: Mapping[str, str], max_sr: float) -> ConeRequest:
    """RA, DEC, SR in ICRS degrees (names case-insensitive); UsageFault names the bad one."""
    p = {k.lower(): v for k, v in params.items()}
    ra = _number(p, "ra", 0.0, 360.0)
    dec = _number(p, "dec", -90.0, 90.0)
    sr = _number(p, "sr", 0.0, math.inf)
    if sr > max_sr:
        raise UsageFault(f"SR={sr:g} is larger than the maximum search radius of {max_sr:g} deg")
    verb = p.get("verb", "2").strip() or "2"
    if verb not in ("1", "2", "3"):
        raise UsageFault(f"VERB={verb!r} must be 1, 2 or 3")
    maxrec = p.get("maxrec")
    if maxrec is not None and maxrec.strip():
        if not maxrec.strip().isdigit():
            raise UsageFault(f"MAXREC={maxrec!r} is not a non-negative integer")
        maxrec_value: int | None = int(maxrec)
    else:
        maxrec_value = None
    fmt = (p.get("responseformat") or p.get("format") or "votable").strip()
    writer = get_writer(fmt)
    if writer is None or not writer.content_type.startswith("application/x-votable"):
        raise UsageFault(f"RESPONSEFORMAT={fmt!r} is not a VOTable format")
    return ConeRequest(ra, dec, sr, int(verb), maxrec_value, fmt)


def _number(p: Mapping[str, str], name: str, low: float, high: float) -> float:
    raw = p.get(name)
    if raw is None or not raw.strip():
        raise UsageFault(f"the {name.upper()} parameter is missing")
    try:
        value = float(raw)
    except ValueError:
        raise UsageFault(f"{name.upper()}={raw!r} is not a number (decimal degrees)") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageFault(f"{name.upper()}={raw} is outside [{low:g}, {high:g}] degrees")
    return value


def cone_sql(schema: str, verb: int, cover: tuple[tuple[int, int], ...] | None) -> sql.Composed:
    """The cone query over ``{schema}.emitter_candidates``, nearest first: the Q3C pixel
    ranges of the cone's fine ``cover`` (``sql.q3c_cover``) and Q3C's distance test against
    ``%(near)s``, or ``q3c_join`` for a cone without a cover."""
    columns = [c for c in COLUMNS if c.verbosity <= verb]
    select = sql.SQL(", ").join(
        sql.SQL(f"{c.expression} AS ") + sql.Identifier(c.field.name) for c in columns
    )
    where: sql.Composable = sql.SQL("q3c_join(%(ra)s, %(dec)s, ra, dec, %(sr)s)")
    if cover:
        ranges = sql.SQL(" OR ").join(
            sql.SQL("q3c_ang2ipix(ra, dec) BETWEEN {} AND {}").format(
                sql.Literal(lo), sql.Literal(hi - 1)
            )
            for lo, hi in cover
        )
        where = sql.SQL("({}) AND q3c_sindist(ra, dec, %(ra)s, %(dec)s) < %(near)s").format(ranges)
    return sql.SQL(
        "SELECT {} FROM {}.emitter_candidates WHERE {}"
        " ORDER BY q3c_dist(ra, dec, %(ra)s, %(dec)s) LIMIT %(limit)s"
    ).format(select, sql.Identifier(schema), where)


def _cover(request: ConeRequest) -> tuple[tuple[int, int], ...] | None:
    try:
        return cone_cover(request.ra, request.dec, request.sr)
    except ValueError:  # SR = 0 (metadata only) or wider than a cover serves
        return None


def run_cone(request: ConeRequest, engine: TapEngine) -> QueryResult:
    """Run a cone search, streamed like a TAP query (flat memory at any MAXREC); errors
    before the first byte raise UsageFault/TransientFault."""
    settings = engine.settings
    writer = get_writer(request.responseformat)
    assert writer is not None  # parse_cone_request checked it
    limit = min(
        settings.scs_maxrec_default if request.maxrec is None else request.maxrec,
        settings.tap_hard_limit,
    )
    if request.sr == 0:
        limit = 0  # SCS: SR=0 asks for the metadata only
    fields = [c.field for c in COLUMNS if c.verbosity <= request.verb]
    params = {
        "ra": request.ra,
        "dec": request.dec,
        "sr": request.sr,
        "near": distance_limit(request.sr),
        "limit": limit + 1,
    }
    timeout = settings.tap_sync_timeout_s
    conn = engine.getconn()
    stream = None
    try:
        engine.begin(conn, timeout, None)  # read-only, one round trip
        stream = row_stream(
            conn.cursor(binary=True),
            cone_sql(settings.published_schema, request.verb, _cover(request)),
            settings.tap_fetch_rows,
            params,
        )
        chunks = iter(lambda: list(islice(stream, settings.tap_fetch_rows)), [])
        first = next(chunks, [])  # execution errors surface here
    except BaseException as exc:
        if stream is not None:
            stream.close()
        engine.putconn(conn)
        if isinstance(exc, psycopg.Error):
            raise database_fault(exc, timeout, sync=True) from exc
        raise
    status = ResultStatus()
    batches = limited_batches(chunks, first, limit, status, timeout, sync=True)
    infos = {"SERVICE_PROTOCOL": "ivo://ivoa.net/std/ConeSearch"}

    def body() -> Iterator[bytes]:
        try:
            yield from writer.write(fields, batches, status, infos)
        finally:
            stream.close()  # a client that went away: the rest of the cone is not read
            engine.putconn(conn)

    return QueryResult(writer.content_type, body())


def scs_error_votable(message: str) -> bytes:
    """An SCS error: ``INFO name="Error"`` under VOTABLE (SCS 1.03) and QUERY_STATUS=ERROR."""
    value = quoteattr(message)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        f'<INFO name="Error" value={value}/>\n'
        '<RESOURCE type="results">\n'
        f'<INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    ).encode()

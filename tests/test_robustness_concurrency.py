"""32 concurrent clients against one live server: sync, async and VOSI mixed, zero errors.

A 10-second run is in the default set; the one-minute run of the issue is marked slow. Every
response is checked, not only its status: results parse as VOTable/CSV with the right rows,
refused queries answer a 400 DALI VOTable, async jobs complete and are deleted.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from lxml import etree
from uws_support import LiveServer, phase_of, submit, votable_status, wait_final

CLIENTS = 32
QUERY = "SELECT TOP 10 table_name, description FROM tap_schema.tables ORDER BY table_name"


def sync_votable(client: httpx.Client, base: str, expected: list[str]) -> None:
    response = client.post(
        f"{base}/sync", data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": QUERY}
    )
    assert response.status_code == 200, response.text[:300]
    assert votable_status(response.content)[0] == "OK"


def sync_csv(client: httpx.Client, base: str, expected: list[str]) -> None:
    response = client.get(
        f"{base}/sync", params={"LANG": "ADQL", "QUERY": QUERY, "RESPONSEFORMAT": "csv"}
    )
    assert response.status_code == 200, response.text[:300]
    names = [line.split(",", 1)[0] for line in response.text.splitlines()[1:]]
    assert names == expected


def sync_refused(client: httpx.Client, base: str, expected: list[str]) -> None:
    response = client.post(
        f"{base}/sync", data={"LANG": "ADQL", "QUERY": "SELECT nope FROM tap_schema.tables"}
    )
    assert response.status_code == 400
    status, text = votable_status(response.content)
    assert status == "ERROR" and text.startswith("UsageFault")


def async_job(client: httpx.Client, base: str, expected: list[str]) -> None:
    job_url = submit(client, base, QUERY, RESPONSEFORMAT="csv")
    job = wait_final(client, job_url, timeout=120)
    assert phase_of(job) == "COMPLETED", etree.tostring(job)[:500]
    rows = client.get(f"{job_url}/results/result").text.splitlines()[1:]
    assert [line.split(",", 1)[0] for line in rows] == expected
    assert client.delete(job_url, follow_redirects=False).status_code == 303


def vosi(client: httpx.Client, base: str, expected: list[str]) -> None:
    for path in ("capabilities", "availability", "tables?detail=min", "async?LAST=3"):
        response = client.get(f"{base}/{path}")
        assert response.status_code == 200, path
        etree.fromstring(response.content)


OPERATIONS: list[tuple[Callable[[httpx.Client, str, list[str]], None], int]] = [
    (sync_votable, 4),
    (sync_csv, 3),
    (sync_refused, 1),
    (async_job, 2),
    (vosi, 1),
]


def hammer(base: str, seconds: float) -> tuple[Counter[str], list[str]]:
    with httpx.Client(timeout=60) as client:
        response = client.get(
            f"{base}/sync", params={"LANG": "ADQL", "QUERY": QUERY, "RESPONSEFORMAT": "csv"}
        )
        expected = [line.split(",", 1)[0] for line in response.text.splitlines()[1:]]
    assert expected, "no tables to query"
    done: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        ops, weights = zip(*OPERATIONS, strict=True)
        # Each thread is its own client, as seen through a trusted proxy on loopback (the
        # service limits how many queries one client runs at once).
        address = {"X-Forwarded-For": f"198.51.100.{seed + 1}"}
        with httpx.Client(timeout=120, headers=address) as client:
            while time.monotonic() < stop_at:
                operation = rng.choices(ops, weights)[0]
                try:
                    operation(client, base, expected)
                    with lock:
                        done[operation.__name__] += 1
                except Exception as exc:  # every failure is counted, none hidden
                    with lock:
                        errors.append(f"{operation.__name__}: {type(exc).__name__}: {exc}"[:400])

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done, errors


@pytest.mark.parametrize("seconds", [10, pytest.param(60, marks=pytest.mark.slow, id="one-minute")])
def test_32_concurrent_clients_without_errors(db_url, tmp_path, seconds) -> None:
    server = LiveServer(db_url, tmp_path / "var", uws_workers=2).start()
    try:
        t0 = time.monotonic()
        done, errors = hammer(server.base, seconds)
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    total = sum(done.values())
    print(
        f"\n{CLIENTS} clients, {elapsed:.1f} s: {total} operations "
        f"({total / elapsed:.0f}/s), {len(errors)} errors; {dict(done)}"
    )
    assert not errors, errors[:5]
    assert all(done[op.__name__] > 0 for op, _ in OPERATIONS), done

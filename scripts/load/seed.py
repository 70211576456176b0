#!/usr/bin/env python3
"""Opens N orders in osflow-local (keep-alive connections from a few threads) and prints their ids, one a line.

Then waits until the reporter has counted them (the embedded relay has delivered their events), so that the
figures taken next do not share the machine with the seeding's aftermath. Usage: seed.py BASE_URL TOKEN N
"""
import http.client
import json
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

BASE, TOKEN, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
THREADS = 4
URL = urllib.parse.urlsplit(BASE)
HEADERS = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}


def order(i):
    return json.dumps({
        "customer": {"name": f"Cliente Carga {i}", "document": "529.982.247-25"},
        "equipment": {"description": "Notebook", "serial": f"SN{i:06d}"},
        "service": {"type": "reparo", "reported_problem": "Não liga"},
        "items": [{"kind": "labor", "description": "Diagnóstico", "quantity": "1", "unit_price": "120.00"}],
    })


def call(conn, method, path, body=None):
    conn.request(method, path, body=body, headers=HEADERS)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data)


def open_some(first):
    conn = http.client.HTTPConnection(URL.hostname, URL.port)
    return [call(conn, "POST", "/v1/orders", order(i))["id"] for i in range(first, N, THREADS)]


with ThreadPoolExecutor(THREADS) as pool:
    for ids in pool.map(open_some, range(THREADS)):
        for i in ids:
            print(i)

# The reporter counts every event it is delivered into the day's aggregate: `opened` reaches the orders opened
# today once the relay has caught up (São Paulo's day is the UTC day or the one before).
today = datetime.now(timezone.utc).date()
period = f"from={(today - timedelta(days=1)).isoformat()}&to={today.isoformat()}"
conn = http.client.HTTPConnection(URL.hostname, URL.port)
for _ in range(600):
    summary = call(conn, "GET", f"/v1/reports/summary?{period}")
    if summary.get("opened", 0) >= N:
        break
    time.sleep(0.5)
else:
    print(f"seed.py: the relay has not caught up ({summary.get('opened')} of {N} counted)", file=sys.stderr)

#!/usr/bin/env python3
"""The staff console's board with N open OS: opens N orders in a company of their own, signs in to the console as
that company's representante (the development sign-in form), then loads the board (GET /) R times, one at a time,
and prints the time to the first byte (on loopback: the server's time) and the page's size.

Usage: console_board.py BASE_URL TOKEN TENANT N [R]   (TOKEN: a representante token of TENANT)
"""
import datetime
import http.client
import json
import math
import re
import statistics
import sys
import time
import urllib.parse

BASE, TOKEN, TENANT, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 30
URL = urllib.parse.urlsplit(BASE)
conn = http.client.HTTPConnection(URL.hostname, URL.port)


def request(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


api = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
# A due date ahead of today (the API refuses one in the past), not a fixed day that expires.
due = (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=30)).isoformat()
for i in range(N):
    order = {
        "customer": {"name": f"Cliente Quadro {i}", "document": "529.982.247-25"},
        "equipment": {"description": "Notebook", "serial": f"QD{i:06d}"},
        "service": {"type": "reparo", "reported_problem": "Não liga"},
        "items": [{"kind": "labor", "description": "Diagnóstico", "quantity": "1", "unit_price": "120.00"}],
        "due_date": due,
    }
    resp, data = request("POST", "/v1/orders", json.dumps(order), api)
    if resp.status != 201:
        raise SystemExit(f"opening an order: {resp.status} {data[:300]!r}")

resp, page = request("GET", "/entrar")
csrf = re.search(rb'name="csrf" value="([^"]+)"', page)
if resp.status != 200 or not csrf:
    raise SystemExit(f"the sign-in page: {resp.status}")
form = urllib.parse.urlencode({"csrf": csrf.group(1).decode(), "tenant": TENANT, "role": "representante"})
resp, _ = request("POST", "/entrar", form, {"Content-Type": "application/x-www-form-urlencoded"})
cookie = (resp.getheader("Set-Cookie") or "").split(";")[0]
if resp.status != 303 or not cookie:
    raise SystemExit(f"signing in: {resp.status}")

times, size = [], 0
for _ in range(ROUNDS):
    started = time.perf_counter()
    conn.request("GET", "/", headers={"Cookie": cookie})
    resp = conn.getresponse()
    first_byte = time.perf_counter()
    body = resp.read()
    cards = body.count(b'class="os ')
    if resp.status != 200 or cards < N:
        raise SystemExit(f"the board: {resp.status}, {cards} cards")
    times.append((first_byte - started) * 1000)
    size = len(body)
times.sort()
print(f"RESULT console_board open_os={N} rounds={ROUNDS} p50_ms={statistics.median(times):.1f} "
      f"p90_ms={times[math.ceil(len(times) * 0.9) - 1]:.1f} page_kb={size / 1024:.0f}")

#!/usr/bin/env python3
"""Events-out latency of osflow-local: from a step's commit to the customer's e-mail recorded as sent.

Opens N orders, sends their quotes from 8 threads at once, then reads each order's timeline and measures
`order.notification_sent.at - order.quote_sent.at` (both stamped by the server's clock, so the client's
timing does not enter). Usage: notify_latency.py BASE_URL TOKEN [N]
"""
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

BASE, TOKEN = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 300
ORDER = {
    "customer": {"name": "Cliente Latência", "document": "529.982.247-25", "email": "cliente@example.com"},
    "equipment": {"description": "Notebook"},
    "service": {"type": "reparo", "reported_problem": "Não liga"},
    "items": [{"kind": "labor", "description": "Diagnóstico", "quantity": "1", "unit_price": "120.00"}],
}


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


def at(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


ids = [call("POST", "/v1/orders", ORDER)["id"] for _ in range(N)]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda i: call("POST", f"/v1/orders/{i}/quote/send", {}), ids))
deadline = time.time() + 30
delays = []
for i in ids:
    while True:
        events = call("GET", f"/v1/orders/{i}/timeline")["events"]
        sent = [e for e in events if e["type"] == "order.notification_sent"]
        if sent or time.time() > deadline:
            break
        time.sleep(0.05)
    quote = next(e for e in events if e["type"] == "order.quote_sent")
    if not sent:
        sys.exit(f"no notification recorded for {i}")
    delays.append((at(sent[0]["at"]) - at(quote["at"])) * 1000)
delays.sort()
pct = lambda p: delays[min(len(delays) - 1, int(len(delays) * p / 100))]
print(f"RESULT notify orders={N} p50_ms={pct(50):.1f} p99_ms={pct(99):.1f} max_ms={delays[-1]:.1f}")

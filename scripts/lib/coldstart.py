"""Cold start of osflow's Lambda bootstraps, measured on this machine (scripts/coldstart; not part of the tests).

A small Lambda runtime-API emulator (the 2018-06-01 API: invocation/next, invocation/<id>/response|error,
init/error) on 127.0.0.1 starts a release `bootstrap` with AWS_LAMBDA_RUNTIME_API pointing at it and the function's
environment (the table, bucket and queues on the local AWS emulator, created from infra/template.yaml, which the drift
test keeps equal to the code's definitions), and measures:

- init: process start -> its first GET /runtime/invocation/next (the runtime is ready for an event);
- first invocation: the event handed over -> the function's response (the first request's SDK connections included);
- warm invocations after it, for comparison.

Functions: open-order (API Gateway HTTP API payload 2.0 with JWT claims, POST /v1/orders with the reference example order) and
invoicer (an SQS event from invoicing.fifo carrying the envelope of the event open-order stored).
"""

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import yaml
from boto3.dynamodb.types import TypeDeserializer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "/2018-06-01/runtime"

ORDER = {
    "customer": {
        "name": "Maria Souza", "document": "529.982.247-25", "email": "maria@example.com",
        "phone": "+55 11 98765-4321",
        "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                    "city_code": "3550308", "uf": "SP", "zip": "01305-000"},
    },
    "equipment": {"description": "Notebook", "brand": "Dell", "model": "Inspiron 15", "serial": "BR123456"},
    "service": {"type": "reparo", "reported_problem": "Não liga"},
    "items": [
        {"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010", "quantity": "1",
         "unit_price": "149.90"},
        {"kind": "labor", "code": "S-001", "description": "Diagnóstico e reparo", "quantity": "1",
         "unit_price": "120.00"},
    ],
    "due_date": "2026-12-10",
}


class RuntimeApi:
    """The runtime API of one function instance: events go in through `invoke`, the bootstrap takes them."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = {}
        self.first_next_at = None
        self.done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                if api.first_next_at is None:
                    api.first_next_at = time.perf_counter()
                request_id, payload = api.events.get()
                api.results[request_id]["sent_at"] = time.perf_counter()
                self._reply(200, payload, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:osflow",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                })

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts[:2] == ["init", "error"]:
                    with api.done:
                        api.results["init"] = {"error": body.decode()}
                        api.done.notify_all()
                    return self._reply(202, b"{}")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api.done:
                        r = api.results[parts[1]]
                        r.update(done_at=time.perf_counter(), kind=parts[2], body=body.decode())
                        api.done.notify_all()
                    return self._reply(202, b"{}")
                return self._reply(404)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the bootstrap is killed while it waits for its next event

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, payload, timeout=30):
        request_id = str(uuid.uuid4())
        self.results[request_id] = {}
        self.events.put((request_id, json.dumps(payload).encode()))
        with self.done:
            ok = self.done.wait_for(lambda: "done_at" in self.results[request_id] or "init" in self.results,
                                    timeout=timeout)
        if "init" in self.results:
            raise RuntimeError("init error: " + self.results["init"]["error"])
        if not ok:
            raise RuntimeError("no response within %d s" % timeout)
        r = self.results[request_id]
        return (r["done_at"] - r["sent_at"]) * 1000, r["kind"], r["body"]

    def close(self):
        self.server.shutdown()


def short_tags_loader():
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node, deep=True)}
        return {suffix: loader.construct_mapping(node, deep=True)}

    Loader.add_multi_constructor("!", construct)
    return Loader


def create_resources(endpoint, region, run):
    """The table, the queues and the bucket of infra/template.yaml (kept equal to the code by the drift test)."""
    with open(os.path.join(ROOT, "infra", "template.yaml"), encoding="utf-8") as f:
        template = yaml.load(f, Loader=short_tags_loader())
    resources = template["Resources"]
    kw = dict(endpoint_url=endpoint, region_name=region)
    ddb = boto3.client("dynamodb", **kw)
    table = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table")
    name = "osflow-coldstart-%s" % run
    ddb.create_table(
        TableName=name,
        BillingMode=table["BillingMode"],
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
        GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        StreamSpecification={"StreamEnabled": True, **table["StreamSpecification"]},
    )
    ddb.get_waiter("table_exists").wait(TableName=name)
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=table["TimeToLiveSpecification"])
    sqs = boto3.client("sqs", **kw)
    urls = {}
    for logical, r in resources.items():
        if r["Type"] != "AWS::SQS::Queue":
            continue
        qname = r["Properties"]["QueueName"]["Sub"].replace("${AWS::StackName}", "osflow-coldstart-" + run)
        attrs = {"FifoQueue": "true"} if r["Properties"].get("FifoQueue") else {}
        urls[logical] = sqs.create_queue(QueueName=qname, Attributes=attrs)["QueueUrl"]
    bucket = "osflow-coldstart-%s" % run
    boto3.client("s3", **kw).create_bucket(Bucket=bucket)
    return name, bucket, urls


def api_gateway_event(tenant):
    body = json.dumps(ORDER)
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "POST /v1/orders",
        "rawPath": "/v1/orders",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "authorization": "Bearer (checked by API Gateway)",
                    "user-agent": "coldstart", "host": "api.example.com"},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "coldstart",
            "authorizer": {"jwt": {"claims": {"custom:tenant": tenant, "sub": "coldstart-user",
                                              "cognito:groups": "[representante atendente]"},
                                   "scopes": None}},
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": "POST", "path": "/v1/orders", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "coldstart"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /v1/orders",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def plain(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def sqs_event(endpoint, region, table, tenant, queue_url):
    """An SQS batch of invoicing.fifo with the envelope of the first event item found for the tenant."""
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
    items = ddb.scan(TableName=table)["Items"]
    deserialize = TypeDeserializer().deserialize
    events = [plain({k: deserialize(v) for k, v in i.items()}) for i in items if i.get("entity", {}).get("S") == "event"]
    events = [e for e in events if e["tenant"] == tenant]
    if not events:
        raise RuntimeError("no event item of %s in %s (did open-order run?)" % (tenant, table))
    e = events[0]
    envelope = {"schema": 1, "event_id": e["event_id"], "type": e["type"], "tenant": e["tenant"],
                "order_id": e["order_id"], "version": e["version"], "occurred_at": e["occurred_at"], "data": e["data"]}
    body = json.dumps(envelope)
    arn = "arn:aws:sqs:%s:000000000000:%s" % (region, queue_url.rsplit("/", 1)[1])
    return {"Records": [{
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "coldstart",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                       "SenderId": "coldstart", "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                       "MessageGroupId": tenant, "MessageDeduplicationId": e["event_id"],
                       "SequenceNumber": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }]}


def run_once(bootstrap, env, events, warm):
    api = RuntimeApi()
    full_env = dict(env, AWS_LAMBDA_RUNTIME_API=api.address)
    started = time.perf_counter()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([bootstrap], env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first_ms, kind, body = api.invoke(events[0])
        init_ms = (api.first_next_at - started) * 1000
        warm_ms = [api.invoke(e)[0] for e in events[1:1 + warm]]
        return init_ms, first_ms, kind, body, warm_ms
    finally:
        proc.kill()
        proc.wait()
        api.close()
        log.seek(0)
        run_once.last_log = log.read().decode(errors="replace")
        log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambda-dir", required=True, help="the folder holding <binary>/bootstrap")
    parser.add_argument("--runs", type=int, default=5, help="cold starts per function")
    parser.add_argument("--warm", type=int, default=5, help="warm invocations after each first one")
    parser.add_argument("--only", choices=["open-order", "invoicer"], help="measure one function")
    args = parser.parse_args()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    run = uuid.uuid4().hex[:8]
    table, bucket, urls = create_resources(endpoint, region, run)
    trust_roots = "/etc/ssl/certs/ca-certificates.crt"
    base_env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "OSFLOW_TABLE": table,
        "OSFLOW_BUCKET": bucket,
        "RUST_LOG": "info",
    }
    tenant = "coldstart-" + run
    print("cold start: table %s, bucket %s on %s; %d runs, %d warm invocations each"
          % (table, bucket, endpoint, args.runs, args.warm))

    functions = [
        # open-order checks technicians against the staff's user pool (its Cognito client is built at start; the
        # opening measured gives no technician, so the pool is never asked).
        ("open-order", {"AWS_LAMBDA_FUNCTION_NAME": "open-order", "OSFLOW_USER_POOL_ID": region + "_coldstart"},
         lambda: api_gateway_event(tenant)),
        ("invoicer", {"AWS_LAMBDA_FUNCTION_NAME": "invoicer", "OSFLOW_SECRETS_PREFIX": "osflow-coldstart/certificates",
                      "OSFLOW_SEFAZ_TRUST_ROOTS": trust_roots, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"},
         lambda: sqs_event(endpoint, region, table, tenant, urls["InvoicingQueue"])),
    ]
    for name, extra, make_event in functions:
        if args.only and name != args.only:
            continue
        bootstrap = os.path.join(args.lambda_dir, name, "bootstrap")
        size = os.path.getsize(bootstrap)
        inits, firsts, warms = [], [], []
        outcome = None
        for _ in range(args.runs):
            events = [make_event() for _ in range(1 + args.warm)]
            try:
                init_ms, first_ms, kind, body, warm_ms = run_once(bootstrap, dict(base_env, **extra), events, args.warm)
            except RuntimeError:
                # What the bootstrap wrote before it failed or hung.
                print("%s: the bootstrap's output:\n%s" % (name, getattr(run_once, "last_log", "")[-3000:]))
                raise
            inits.append(init_ms)
            firsts.append(first_ms)
            warms.extend(warm_ms)
            outcome = (kind, body)
        kind, body = outcome
        try:
            shown = json.loads(body)
            if isinstance(shown, dict) and "body" in shown:
                inner = json.loads(shown["body"]) if shown.get("body") else None
                shown = {"statusCode": shown.get("statusCode"),
                         "body": {k: inner[k] for k in ("id", "number", "status", "version") if k in inner}
                         if isinstance(inner, dict) else inner}
        except (ValueError, TypeError):
            shown = body[:300]
        print()
        print("%s: bootstrap %.2f MB (%d bytes)" % (name, size / 1e6, size))
        print("  init (start -> first /invocation/next): median %.1f ms, min %.1f, max %.1f"
              % (statistics.median(inits), min(inits), max(inits)))
        print("  first invocation:                        median %.1f ms, min %.1f, max %.1f"
              % (statistics.median(firsts), min(firsts), max(firsts)))
        if warms:
            print("  warm invocations:                        median %.1f ms, min %.1f, max %.1f"
                  % (statistics.median(warms), min(warms), max(warms)))
        print("  last answer (%s): %s" % (kind, json.dumps(shown, ensure_ascii=False)[:400]))
        last_log = [line for line in run_once.last_log.splitlines() if line.strip()][-4:]
        for line in last_log:
            print("  log: " + line[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())

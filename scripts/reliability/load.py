#!/usr/bin/env python3
"""Load loops for the reliability scripts (issue #9), standard library only.

  load.py fault  — publishes and uploads as fast as THREADS allow for DURATION seconds, then
                   checks every acknowledged (2xx) publish and upload is readable; reports
                   statuses, the slowest request, and errors by second (JSON on stdout).
  load.py soak   — a mixed workload paced to RATE requests/s for DURATION seconds, sampling the
                   server's RSS (PID) and error counts every SAMPLE seconds into CSV (OUT).

Environment: API, TOKEN, WS (workspace id), CAMPAIGN, DURATION, THREADS, RATE, PID, OUT,
SAMPLE, TIMEOUT (seconds a request may take before it counts as hung).
Bounded in count and time; talks to API (a loopback address) only.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

API = os.environ.get("API", "http://127.0.0.1:18080")
TOKEN = os.environ.get("TOKEN", "")
WS = os.environ.get("WS", "")
CAMPAIGN = os.environ.get("CAMPAIGN", "")
DURATION = float(os.environ.get("DURATION", "20"))
THREADS = int(os.environ.get("THREADS", "4"))
TIMEOUT = float(os.environ.get("TIMEOUT", "15"))

parsed = urllib.parse.urlparse(API)
assert parsed.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"


def call(method, path, body=None, content_type="application/json", token=TOKEN):
    """One request on a fresh connection: (status, parsed body or text, seconds)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=TIMEOUT)
    try:
        headers = {"authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["content-type"] = content_type
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        return response.status, payload, time.monotonic() - started
    except (OSError, http.client.HTTPException) as error:
        # A timeout here is a hang; a refused or reset connection is the server being away.
        kind = "timeout" if isinstance(error, TimeoutError) or "timed out" in str(error) else "connection"
        return kind, str(error), time.monotonic() - started
    finally:
        connection.close()


def ws_path(rest):
    return f"/v1/workspaces/{WS}{rest}"


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.by_second = {}
        self.slowest = 0.0
        self.bad = []

    def add(self, what, status, seconds, body, started_at):
        with self.lock:
            key = f"{what} {status}"
            self.statuses[key] = self.statuses.get(key, 0) + 1
            self.slowest = max(self.slowest, seconds)
            second = int(started_at)
            ok = isinstance(status, int) and status < 400
            bucket = self.by_second.setdefault(second, [0, 0])
            bucket[0 if ok else 1] += 1
            if isinstance(status, int) and status >= 500 and status != 503:
                self.bad.append(f"{what}: {status} {body}")
            if status == 503 and not (isinstance(body, dict) and body.get("code") == "unavailable"):
                self.bad.append(f"{what}: 503 without the error shape: {body}")
            if status == "timeout":
                self.bad.append(f"{what}: no answer within {TIMEOUT} s")


def fault(customer_ids):
    """Publishes and uploads until DURATION is over; returns what was acknowledged."""
    tally = Tally()
    acknowledged_messages = []
    acknowledged_customers = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + DURATION

    def worker(index):
        n = 0
        while time.monotonic() < deadline:
            n += 1
            at = time.monotonic() - start
            if (index + n) % 2 == 0:
                customer = customer_ids[n % len(customer_ids)]
                body = {"messages": [{"customer_id": customer, "body": f"fault {index}-{n}"}]}
                status, payload, seconds = call(
                    "POST", ws_path(f"/campaigns/{CAMPAIGN}/messages/publish"), body
                )
                tally.add("publish", status, seconds, payload, at)
                if isinstance(status, int) and 200 <= status < 300:
                    with lock:
                        acknowledged_messages.extend(payload["message_ids"])
            else:
                external = f"fault-{index}-{n}-{uuid.uuid4().hex[:8]}"
                csv = f"external_id,email\n{external},{external}@example.com\n"
                status, payload, seconds = call(
                    "POST", ws_path("/customers/upload"), csv, "text/csv"
                )
                tally.add("upload", status, seconds, payload, at)
                if isinstance(status, int) and 200 <= status < 300:
                    with lock:
                        acknowledged_customers.append(external)
            if not (isinstance(status, int) and status < 400):
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, acknowledged_messages, acknowledged_customers


def verify(acknowledged_messages, acknowledged_customers):
    """Every acknowledged write can be read back; returns the missing ones."""
    missing = []
    for i in range(0, len(acknowledged_messages), 400):
        ids = acknowledged_messages[i : i + 400]
        status, payload, _ = call(
            "POST",
            ws_path(f"/campaigns/{CAMPAIGN}/messages/retrieve"),
            {"page": 1, "page_size": 500, "message_ids": ids},
        )
        found = {m["id"] for m in payload["items"]} if status == 200 else set()
        missing += [f"message {m}" for m in ids if m not in found]
    for external in acknowledged_customers:
        status, payload, _ = call("GET", ws_path(f"/customers?search={external}"))
        if status != 200 or not any(c.get("external_id") == external for c in payload["items"]):
            missing.append(f"customer {external}")
    return missing


def setup_customers(count):
    rows = "".join(f"base-{i},base-{i}@example.com\n" for i in range(count))
    status, payload, _ = call("POST", ws_path("/customers/upload"), "external_id,email\n" + rows, "text/csv")
    assert status == 200, (status, payload)
    status, payload, _ = call("GET", ws_path(f"/customers?page_size={count}"))
    assert status == 200, (status, payload)
    return [c["id"] for c in payload["items"]]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return -1
    return -1


def upload_retrying(n):
    """A small upload, as an integrator sends it: a workspace busy with another upload answers
    409 at once (it never queues on the lock), and the client tries again shortly."""
    for _ in range(50):
        status, payload, seconds = call(
            "POST", ws_path("/customers/upload"),
            f"external_id,email,first_name\nsoak-{n % 500},soak-{n % 500}@example.com,N{n}\n", "text/csv",
        )
        if status != 409:
            break
        time.sleep(0.02)
    return status, payload, seconds


def soak(customer_ids):
    """A paced mixed workload with periodic samples of RSS and errors."""
    rate = float(os.environ.get("RATE", "50"))
    pid = int(os.environ.get("PID", "0"))
    sample_every = float(os.environ.get("SAMPLE", "5"))
    out = os.environ.get("OUT", "soak.csv")
    tally = Tally()
    start = time.monotonic()
    deadline = start + DURATION
    interval = THREADS / rate
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    operations = [
        ("list customers", lambda n: call("GET", ws_path("/customers?page_size=20"))),
        ("get customer", lambda n: call("GET", ws_path(f"/customers/{customer_ids[n % len(customer_ids)]}"))),
        ("publish", lambda n: call(
            "POST",
            ws_path(f"/campaigns/{CAMPAIGN}/messages/publish"),
            {"messages": [{"customer_id": customer_ids[n % len(customer_ids)], "body": f"soak {n}"}]},
        )),
        ("retrieve", lambda n: call(
            "POST", ws_path(f"/campaigns/{CAMPAIGN}/messages/retrieve"), {"page": 1, "page_size": 20}
        )),
        ("upload", upload_retrying),
        ("me", lambda n: call("GET", "/v1/me")),
        ("campaigns", lambda n: call("GET", ws_path("/campaigns"))),
    ]

    def worker(index):
        n = index
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            n += THREADS
            what, operation = operations[n % len(operations)]
            at = time.monotonic() - start
            status, payload, seconds = operation(n)
            tally.add(what, status, seconds, payload, at)
            with lock:
                counts["requests"] += 1
                if not (isinstance(status, int) and status < 400):
                    counts["errors"] += 1
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    samples = []
    with open(out, "w") as csv:
        csv.write("seconds,rss_mib,requests,errors\n")
        while any(t.is_alive() for t in threads):
            time.sleep(min(sample_every, max(0.1, deadline - time.monotonic() + 0.1)))
            with lock:
                row = (round(time.monotonic() - start, 1), round(rss_kib(pid) / 1024, 1), counts["requests"], counts["errors"])
            samples.append(row)
            csv.write(",".join(str(v) for v in row) + "\n")
            csv.flush()
    for thread in threads:
        thread.join()
    return tally, samples


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "fault"
    customer_ids = setup_customers(int(os.environ.get("CUSTOMERS", "50")))
    if mode == "fault":
        tally, messages, customers = fault(customer_ids)
        # The database is back: wait (bounded) until the server answers again, then read back.
        recovered = False
        for _ in range(300):
            status, _, _ = call("GET", "/health/ready")
            if status == 200:
                recovered = True
                break
            time.sleep(0.1)
        missing = verify(messages, customers) if recovered else ["the server did not recover"]
        report = {
            "requests": sum(tally.statuses.values()),
            "statuses": tally.statuses,
            "slowest_seconds": round(tally.slowest, 2),
            "acknowledged_messages": len(messages),
            "acknowledged_uploads": len(customers),
            "missing_after": missing[:20],
            "missing_count": len(missing),
            "defects": tally.bad[:20],
            "defect_count": len(tally.bad),
            "failures_by_second": {k: v for k, v in sorted(tally.by_second.items()) if v[1]},
        }
        print(json.dumps(report, indent=1))
        sys.exit(1 if missing or tally.bad else 0)
    else:
        tally, samples = soak(customer_ids)
        report = {
            "requests": sum(tally.statuses.values()),
            "statuses": tally.statuses,
            "slowest_seconds": round(tally.slowest, 2),
            "defects": tally.bad[:20],
            "samples": samples,
        }
        print(json.dumps(report, indent=1))
        sys.exit(1 if tally.bad else 0)


if __name__ == "__main__":
    main()

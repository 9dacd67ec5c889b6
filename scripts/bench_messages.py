"""performance.md #7 and #8 against a running server: publish batches of 1,000 encrypted messages,
then retrieve pages of 500, each for DURATION seconds from THREADS client threads.

    API=http://127.0.0.1:18182 python3 scripts/bench_messages.py
"""

import json
import os
import random
import threading
import time

import requests

API = os.environ.get("API", "http://127.0.0.1:18182")
THREADS = int(os.environ.get("THREADS", "8"))
DURATION = float(os.environ.get("DURATION", "10"))
CUSTOMERS = 1000


def call(session, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = session.request(method, API + path, headers=headers, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def setup():
    s = requests.Session()
    email = f"bench{random.randrange(10**9)}@example.com"
    password = "bench password 1"
    signed = call(s, "POST", "/v1/signup", json={
        "email": email, "password": password, "full_name": "Bench", "account_name": "Bench"})
    ws = signed["workspace"]["id"]
    token = call(s, "POST", "/v1/auth/login", json={"email": email, "password": password})["access_token"]
    csv = "email\n" + "".join(f"c{i}@example.com\n" for i in range(CUSTOMERS))
    call(s, "POST", f"/v1/workspaces/{ws}/customers/upload", token,
         data=csv.encode(), headers={"content-type": "text/csv"})
    ids = [c["id"] for page in (1, 2)
           for c in call(s, "GET", f"/v1/workspaces/{ws}/customers?page={page}&page_size=500", token)["items"]]
    campaign = call(s, "POST", f"/v1/workspaces/{ws}/campaigns", token,
                    json={"name": "Bench", "channel": "email", "group_ids": []})["id"]
    return token, ws, campaign, ids


def run(work):
    done = [0] * THREADS
    latencies = [[] for _ in range(THREADS)]
    deadline = time.monotonic() + DURATION

    def worker(n):
        s = requests.Session()
        while time.monotonic() < deadline:
            start = time.monotonic()
            done[n] += work(s)
            latencies[n].append(time.monotonic() - start)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    all_latencies = sorted(l for ls in latencies for l in ls)
    p = lambda q: all_latencies[min(len(all_latencies) - 1, int(q * len(all_latencies)))] * 1000
    return sum(done) / elapsed, p(0.5), p(0.99)


def main():
    token, ws, campaign, ids = setup()
    base = f"/v1/workspaces/{ws}/campaigns/{campaign}/messages"
    body = "Hello! " * 40

    def publish(s):
        batch = [{"customer_id": random.choice(ids), "subject": "Spring sale", "body": body,
                  "metadata": {"variant": "a", "n": i}} for i in range(1000)]
        return call(s, "POST", base + "/publish", token, json={"messages": batch})["published"]

    rate, p50, p99 = run(publish)
    print(f"| #7 publish, batches of 1,000, encrypted | {rate:,.0f} messages/s | p50 {p50:.0f} ms, p99 {p99:.0f} ms | >= 20,000/s | {'yes' if rate >= 20000 else 'no'} |")
    pages = call(requests.Session(), "POST", base + "/pages", token, json={"page_size": 500})["total_pages"]

    def retrieve(s):
        page = random.randint(1, max(1, min(pages, 50)))
        return len(call(s, "POST", base + "/retrieve", token,
                        json={"page": page, "page_size": 500})["items"])

    rate, p50, p99 = run(retrieve)
    print(f"| #8 retrieve, pages of 500, decrypted | {rate:,.0f} messages/s | p50 {p50:.0f} ms, p99 {p99:.0f} ms | >= 20,000/s | {'yes' if rate >= 20000 else 'no'} |")


if __name__ == "__main__":
    main()

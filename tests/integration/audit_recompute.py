#!/usr/bin/env python3
"""An auditor's check, written without Rapport's code (CONTRACT §7).

Appends events with the real `rapport` program, reads every customer's `history`, and recomputes
from that output alone, with RFC 8785 serialisation and SHA-256: each record digest, every
customer_hash chain, every partition's chain_hash chain, and the heads `rapport digest` reports.
Also checks the `anon-` id rule of CONTRACT §1.

usage: audit_recompute.py RAPPORT_BIN SCRATCH_DIR
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys


def jcs(value):
    # RFC 8785 for the values a ledger record holds (strings, integers, booleans, objects, arrays;
    # the only non-integers are preference weights, which ECMAScript and repr() print alike here).
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def run(args, stdin=None):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def main():
    rapport, scratch = sys.argv[1], sys.argv[2]
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    data = ["--data-dir", os.path.join(scratch, "data")]
    base = {"occurred_at": "2026-11-20T10:15:00+08:00", "channel": "chat", "source": "audit"}
    events = []
    for i in range(40):
        e = dict(base, event_id=f"a-{i}", type="inquiry", customer_id=f"C-{i % 7}",
                 data={"topic": "délivery ✓ \u001f \"quoted\"", "summary": f"n{i}"})
        events.append(e)
    events.append(dict(base, event_id="a-anon", type="visit",
                       identity={"kind": "email", "value": "  Li.Wei@Example.COM "}))
    events.append(dict(base, event_id="a-pref", type="preference_observed", customer_id="C-1",
                       data={"key": "ice", "value": "one cube", "weight": 0.25}))
    code, out, err = run([rapport, "append", *data],
                         "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n")
    assert code == 0, (code, out, err)

    anon = "anon-" + hashlib.sha256(b"email:li.wei@example.com").hexdigest()[:16]
    customers = [f"C-{i}" for i in range(7)] + [anon]
    records = []
    for c in customers:
        code, out, err = run([rapport, "history", c, *data])
        assert code == 0, (c, code, err)
        stream = json.loads(out)["events"]
        prev = bytes(32)
        for seq, ev in enumerate(stream, start=1):
            ev = dict(ev)
            meta = {k: ev.pop(k) for k in ("seq", "partition", "position", "recorded_at", "hash",
                                           "customer_hash")}
            assert meta["seq"] == seq, (c, meta)
            canonical = jcs({"partition": meta["partition"], "position": meta["position"],
                             "customer_id": ev["customer_id"], "seq": meta["seq"],
                             "event_id": ev["event_id"], "recorded_at": meta["recorded_at"],
                             "event": ev})
            digest = hashlib.sha256(canonical.encode()).digest()
            prev = hashlib.sha256(prev + digest).digest()
            assert prev.hex() == meta["customer_hash"], (c, seq, "customer_hash")
            records.append((meta["partition"], meta["position"], digest, meta["hash"]))

    heads = {}
    records.sort()
    for p, pos, digest, chain_hash in records:
        last_pos, last_hash = heads.get(p, (0, bytes(32)))
        assert pos == last_pos + 1, (p, pos, "gap: a customer's history is missing")
        h = hashlib.sha256(last_hash + digest).digest()
        assert h.hex() == chain_hash, (p, pos, "chain_hash")
        heads[p] = (pos, h)

    code, out, err = run([rapport, "digest", *data])
    assert code == 0, err
    for head in json.loads(out)["partitions"]:
        pos, h = heads.get(head["partition"], (0, bytes(32)))
        assert head["position"] == pos and head["hash"] == h.hex(), head
    print(f"audit: recomputed {len(records)} records in {len(heads)} partitions without Rapport")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

"""One sync at a time per collection name: an atomic lease in the `<name>_lock` collection.

Milvus has no insert-if-absent, so the lease is taken by insert-then-read: a sync inserts its own claim entity
(`c/<owner>`), then reads every claim, and holds the lease only when it found no other live claim. Collections are
Strongly consistent, so of two claims inserted concurrently the later one's read sees the earlier one: at most one
claimant ever finds itself alone. Claimants that see each other both withdraw and try again after a random pause;
a claim already held makes the others fail at once with IndexLocked. A held claim is renewed while the sync writes;
one not renewed for SECONDS, or of a dead process on this host, is removed by the next claimant; and ownership is
checked again right before the sync commits (`confirm`), so a sync whose lease was taken over commits nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import time
import uuid

from kb.backends.milvus.schema import QUERY_LIMIT, create, lit
from kb.core.errors import IndexLocked


class Lease:
    SECONDS = 120          # a held claim not renewed for this long is abandoned (renewed every RENEW seconds)
    RENEW = 10
    ATTEMPTS = 8           # rounds of insert-then-read before giving up on a contended lease

    def __init__(self, client, name: str):
        self.client, self.name, self.coll = client, name, f"{name}_lock"
        self.me = {"owner": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid()}
        self.key = f"c/{self.me['owner'][:12]}"          # the collection's key field holds 16 characters
        self._last = 0.0

    def __enter__(self) -> Lease:
        self._ensure_collection()
        for attempt in range(self.ATTEMPTS):
            self._write(held=False, first=True)
            others = [c for c in self._claims() if c.get("owner") != self.me["owner"]]
            live = [c for c in others if self._alive(c)]
            for c in others:
                if not self._alive(c):
                    self.client.delete(self.coll, filter=f"key == {lit(c['key'])}")
            if not live:
                self._write(held=True)
                return self
            self._withdraw()
            held = [c for c in live if c.get("held", True)]
            if held:
                raise IndexLocked(f"another sync (pid {held[0].get('pid')} on {str(held[0].get('host'))[:60]}) is "
                                  f"writing the Milvus collection '{self.name}'; wait for it to finish, then run the "
                                  "command again")
            time.sleep(random.uniform(0.05, 0.4) * (attempt + 1))
        raise IndexLocked(f"other syncs keep claiming the Milvus collection '{self.name}'; wait for them to finish, "
                          "then run the command again")

    def _ensure_collection(self) -> None:
        from pymilvus import DataType

        if not self.client.has_collection(self.coll):
            s = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=16)
            s.add_field("data", DataType.VARCHAR, max_length=1024)
            s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            ip = self.client.prepare_index_params()
            ip.add_index(field_name="v", index_type="FLAT", metric_type="L2")
            with contextlib.suppress(Exception):        # two first syncs may both create it: one wins
                create(self.client, self.coll, s, ip)
        for wait in (0.2, 0.5, 1.0, 2.0, None):         # the winner's index and load may still be under way
            try:
                state = str(self.client.get_load_state(self.coll).get("state", ""))
                if "Loaded" not in state or "NotLoad" in state:
                    self.client.load_collection(self.coll)
                return
            except Exception:
                if wait is None:
                    raise
                time.sleep(wait)

    def _claims(self) -> list[dict]:
        out = []
        for row in self.client.query(self.coll, filter='key != ""', output_fields=["key", "data"], limit=QUERY_LIMIT):
            try:
                claim = json.loads(row["data"])
            except ValueError:
                claim = {}
            out.append({**(claim if isinstance(claim, dict) else {}), "key": row["key"]})
        return out

    def _write(self, held: bool, first: bool = False) -> None:
        row = {"key": self.key, "data": json.dumps({**self.me, "at": time.time(), "held": held}), "v": [0.0, 0.0]}
        (self.client.insert if first else self.client.upsert)(self.coll, [row])
        self._last = time.monotonic()

    def _withdraw(self) -> None:
        self.client.delete(self.coll, filter=f"key == {lit(self.key)}")

    def _alive(self, claim: dict) -> bool:
        if time.time() - float(claim.get("at", 0)) > self.SECONDS:
            return False
        if claim.get("host") == self.me["host"]:
            try:
                os.kill(int(claim.get("pid", 0)), 0)
            except (ProcessLookupError, ValueError):
                return False
            except PermissionError:
                return True
        return True

    def renew(self, force: bool = False) -> None:
        if force or time.monotonic() - self._last > self.RENEW:
            self._write(held=True)

    def confirm(self) -> None:
        """Raise IndexLocked unless this sync still holds the lease (called right before a commit)."""
        mine = [c for c in self._claims() if c.get("owner") == self.me["owner"]]
        if not mine or not mine[0].get("held"):
            raise IndexLocked(f"this sync lost its lease on the Milvus collection '{self.name}' (not renewed for "
                              f"{self.SECONDS} s, another sync took over); nothing was committed; run the command "
                              "again")
        self.renew(force=True)

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):      # the lease expires by itself if this fails
            self._withdraw()

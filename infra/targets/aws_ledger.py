"""The fault ledger in the AWS account (a DynamoDB table named in the profile: `safety.ledger_table`), so that
`gameday recover --target aws` works from any machine, and a lease in the same table, so that two harnesses never
run faults on one target at once.

Ledger lines are items of partition `ledger#<profile>#<account>`, sort key `line#<at_s>#<entry id>#<event>#<nonce>`
(append order), each written with PutItem under `attribute_not_exists(sk)`: an item is durable when DynamoDB
acknowledges it (written to several Availability Zones), so the write-ahead holds as with the file's fsync. Reads
are strongly consistent Queries.

The lease is one item (`sk = lease`) with its holder and expiry, taken with a conditional PutItem (free, expired,
or ours) and given back with a conditional DeleteItem. It expires by itself after the run's longest possible
duration: a harness lost mid-GameDay blocks the target no longer than its faults could last (they expire then too:
infra/targets/aws_expiry.py).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from contextlib import contextmanager
from decimal import Decimal

from botocore.exceptions import ClientError

from gameday.base.errors import GameDayError, InvalidInput

__all__ = ["DynamoLedgerStore", "LeaseHeld"]


class LeaseHeld(InvalidInput):
    """Another harness holds the target's lease (exit code 2: nothing was touched)."""


def _number(value: float) -> Decimal:
    return Decimal(repr(float(value)))


class DynamoLedgerStore:
    """gameday.base.ledger.LedgerStore on a DynamoDB table (string keys `pk`, `sk`)."""

    def __init__(self, client, table: str, key: str, clock):
        self._client, self.table, self.key, self._clock = client, table, key, clock
        self.where = f"dynamodb://{table}/{key}"

    # --- the ledger ---------------------------------------------------------------------------------
    def append(self, line: dict) -> None:
        sk = f"line#{line['at_s']:017.6f}#{line['id']}#{line['event']}#{uuid.uuid4().hex[:8]}"
        try:
            self._client.put_item(TableName=self.table, ConditionExpression="attribute_not_exists(sk)", Item={
                "pk": {"S": self.key}, "sk": {"S": sk}, "line": {"S": json.dumps(line, separators=(",", ":"))}})
        except ClientError as exc:
            raise GameDayError(f"recording of fault {line['id']!r} in ledger {self.where} failed: "
                               f"{exc.response.get('Error', {}).get('Code')}: {exc}",
                               hint="check the table exists and the role may write it (infra/aws/gameday-role.yaml); "
                                    "nothing was injected") from exc

    def read(self) -> list[dict]:
        lines = []
        pages = self._client.get_paginator("query").paginate(
            TableName=self.table, ConsistentRead=True, KeyConditionExpression="pk = :pk AND begins_with(sk, :line)",
            ExpressionAttributeValues={":pk": {"S": self.key}, ":line": {"S": "line#"}})
        for page in pages:
            lines += [json.loads(item["line"]["S"]) for item in page.get("Items", [])]
        return lines

    # --- the lease ----------------------------------------------------------------------------------
    @contextmanager
    def lease(self, run_id: str, duration_s: float):
        """Hold the target for `run_id` for at most `duration_s` (LeaseHeld naming the holder when taken)."""
        holder = {"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(), "nonce": uuid.uuid4().hex}
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self.table, Item={
                    "pk": {"S": self.key}, "sk": {"S": "lease"}, "holder": {"S": json.dumps(holder)},
                    "holder_nonce": {"S": holder["nonce"]}, "taken_s": {"N": str(_number(now))},
                    "expires_s": {"N": str(_number(now + duration_s))}},
                ConditionExpression="attribute_not_exists(sk) OR expires_s < :now",
                ExpressionAttributeValues={":now": {"N": str(_number(now))}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise self._held(run_id, now) from exc
        try:
            yield holder
        finally:
            try:
                self._client.delete_item(TableName=self.table, Key={"pk": {"S": self.key}, "sk": {"S": "lease"}},
                                         ConditionExpression="holder_nonce = :me",
                                         ExpressionAttributeValues={":me": {"S": holder["nonce"]}})
            except ClientError as exc:  # expired and taken by another since: theirs now, leave it
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def holder(self) -> dict | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        item = self._client.get_item(TableName=self.table, ConsistentRead=True,
                                     Key={"pk": {"S": self.key}, "sk": {"S": "lease"}}).get("Item")
        if item is None or float(item["expires_s"]["N"]) < self._clock():
            return None
        return json.loads(item["holder"]["S"])

    def _held(self, run_id: str, now: float) -> LeaseHeld:
        item = self._client.get_item(TableName=self.table, ConsistentRead=True,
                                     Key={"pk": {"S": self.key}, "sk": {"S": "lease"}}).get("Item", {})
        holder = json.loads(item.get("holder", {}).get("S", "{}"))
        left = float(item.get("expires_s", {}).get("N", now)) - now
        return LeaseHeld(f"run {run_id} refused: the target's lease in {self.where} is held by run "
                         f"{holder.get('run_id')} on host {holder.get('host')} (pid {holder.get('pid')}) for another "
                         f"{left:.0f} s", hint="wait for that run to end; a harness that was lost gives the lease up "
                                               "when it expires (its faults expire by then too)")

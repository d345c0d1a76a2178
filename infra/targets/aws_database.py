"""The AWS driver's database faults and remediations: Aurora cluster failover, global-cluster failover and
switchover, read-replica promotion (mixed into infra.targets.aws.AwsTarget). Every one of them is asynchronous
on AWS: the driver waits (infra.targets.aws_wait) until the new writer writes."""

from __future__ import annotations

from botocore.exceptions import ClientError

from gameday.base.errors import GameDayError, InvalidInput
from infra.targets.aws_wait import global_failover_pending, wait_for

#: What kill_db_writer leaves to undo on aws (unless asked to restore the writer).
NOTHING_TO_UNDO = "nothing to undo: Aurora promoted a reader; the old writer rejoined as a reader"


class DatabaseFaults:
    # --- database --------------------------------------------------------------------------------
    def _cluster(self, region: str) -> dict:
        cluster = self._need(self.profile.resources.database.clusters.get(region), f"a DB cluster in {region}")
        return self.client("rds", region).describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]

    def writer_instance(self, region: str) -> str | None:
        """The writer instance of `region`'s cluster (None for a global secondary, which has none)."""
        members = self._cluster(region).get("DBClusterMembers", [])
        return next((m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")), None)

    def writer_regions(self) -> list[str]:
        """Regions whose cluster has a writer instance (more than one would be split brain)."""
        db = self.profile.resources.database
        return [r for r in self.profile.regions.all() if r in db.clusters and self.writer_instance(r)]

    def failover_cluster(self, region: str, target_instance: str | None = None) -> dict:
        """Fail `region`'s cluster over to `target_instance` (default: its first reader) and wait until it writes."""
        return self._failover_cluster("failover_cluster", region, target_instance, undo=True)

    def _failover_cluster(self, action: str, region: str, target_instance: str | None, *, undo: bool) -> dict:
        start = self._clock()
        cluster = self._cluster(region)
        ident = cluster["DBClusterIdentifier"]
        self._guard(action, f"DB cluster {ident} ({region})", region, cluster.get("TagList"))
        members = cluster.get("DBClusterMembers", [])
        writer = next((m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")), None)
        readers = [m["DBInstanceIdentifier"] for m in members if not m.get("IsClusterWriter")]
        target = target_instance or (readers[0] if readers else None)
        if target_instance is not None and target_instance == writer:  # idempotent as a recovery
            return self._done(action, start, None, region=region, cluster=ident, skipped=True,
                              reason=f"{writer} is the writer already")
        if not target or target == writer:
            raise InvalidInput(f"failover of DB cluster {ident} ({region}) on target aws refused: no other instance "
                               f"to fail over to (writer {writer}, readers {readers or 'none'}); nothing was changed")
        recovery = {"call": "failover_cluster", "args": {"region": region, "target_instance": writer}} if undo \
            else None
        self._ahead(recovery)
        self.client("rds", region).failover_db_cluster(DBClusterIdentifier=ident, TargetDBInstanceIdentifier=target)
        waited = self._wait_cluster_writer(action, region, ident, target)
        return self._done(action, start, recovery, region=region, cluster=ident, from_instance=writer,
                          to_instance=target, waited_s=waited)

    def _wait_cluster_writer(self, action: str, region: str, ident: str, target: str) -> float | None:
        """Wait until `target` is the writer of cluster `ident` and the cluster is available (FailoverDBCluster
        returns at once; the cluster shows `failing-over` meanwhile). None: a dry run, nothing to wait for."""
        if self.dry_run:
            return None

        def pending(cluster: dict) -> str | None:
            writer = next((m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])
                           if m.get("IsClusterWriter")), None)
            status = cluster.get("Status", "available")
            if writer == target and status == "available":
                return None
            return f"status {status}, writer {writer or 'none'}"

        _, waited = wait_for(lambda: self._cluster(region), pending, waiting=self.waiting, action=action,
                             resource=f"DB cluster {ident} ({region})", until=f"{target} writes and the cluster is "
                             "available", timeout_s=self.waiting.timeouts.db_cluster_s,
                             hint="read the cluster's RDS events; the failover may still finish on its own")
        return waited

    def kill_db_writer(self, restore_writer: bool = False) -> dict:
        """Take the writer instance away: a cluster failover in the writer region (Aurora's nearest to a kill),
        waited until a reader writes. Nothing to undo unless `restore_writer`: Aurora promoted a reader and the old
        writer rejoined as a reader; failing back would be a second outage (infra/aws/README.md)."""
        writers = self.writer_regions()
        if not writers:
            raise GameDayError("kill of the database writer on target aws failed: no cluster has a writer instance",
                               hint="check resources.database.clusters in the target profile")
        done = self._failover_cluster("kill_db_writer", writers[0], None, undo=bool(restore_writer))
        if not restore_writer:
            done["undo"] = NOTHING_TO_UNDO
        return done

    def restore_writer(self) -> dict:
        """A writer again after `kill_db_writer`: Aurora fails over inside the writer region's cluster by itself, so
        this verifies (waits until) the global writer's cluster has a writer instance and is available; nothing
        moves across regions (a cross-region promotion is `promote_secondary`, for a lost region)."""
        start = self._clock()
        writers = self.writer_regions()
        if len(writers) != 1:
            raise GameDayError(f"restore_writer on target aws failed: expected one writer region, found "
                               f"{writers or 'none'}", hint="`gameday aws check` shows the global cluster; a lost "
                               "region is remediated with remediations.failover.promote_secondary")
        region = writers[0]
        cluster = self._cluster(region)
        writer = self.writer_instance(region)
        waited = self._wait_cluster_writer("restore_writer", region, cluster["DBClusterIdentifier"], writer) \
            if writer else None
        return self._done("restore_writer", start, None, region=region, cluster=cluster["DBClusterIdentifier"],
                          writer_instance=writer, cross_region=False, waited_s=waited)

    def _global_cluster(self, region: str) -> dict:
        ident = self._need(self.profile.resources.database.global_cluster_id, "an Aurora global cluster")
        return self.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=ident)["GlobalClusters"][0]

    @staticmethod
    def _writer_of(found: dict) -> str | None:
        return next((m["DBClusterArn"] for m in found.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)

    def _global_writer(self, region: str) -> tuple[dict, str | None]:
        found = self._global_cluster(region)
        writer_arn = self._writer_of(found)
        return found, (writer_arn.split(":")[3] if writer_arn else None)

    def _wait_global(self, action: str, region: str, resource: str, writer_arn: str | None, until: str) -> float:
        """Wait until no failover/switchover of the global cluster is under way (FailoverState empty, status
        available) and, when given, `writer_arn` is its writer."""
        _, waited = wait_for(
            lambda: self._global_cluster(region),
            lambda found: global_failover_pending(found, writer_arn, action=action, resource=resource),
            waiting=self.waiting, action=action, resource=resource, until=until,
            timeout_s=self.waiting.timeouts.global_cluster_s,
            hint="read the global cluster's RDS events (describe-global-clusters shows FailoverState); once it is "
                 "available, retry or switch over by hand")
        return waited

    def _global_move(self, action: str, to_region: str, *, allow_data_loss: bool) -> dict:
        # Called through the target region's endpoint: during a region outage the old primary may not answer.
        start = self._clock()
        found, from_region = self._global_writer(to_region)
        cluster = self._cluster(to_region)
        ident = found["GlobalClusterIdentifier"]
        resource = f"global cluster {ident} (to {cluster['DBClusterIdentifier']} in {to_region})"
        self._guard(action, f"global cluster {ident}", to_region, found.get("TagList"))
        self._guard(action, f"DB cluster {cluster['DBClusterIdentifier']} ({to_region}) of global cluster {ident}",
                    to_region, cluster.get("TagList"))
        if not self.dry_run and (found.get("FailoverState") or {}).get("Status"):
            # A failover or switchover is still under way (e.g. the promotion this failback undoes): a second one
            # would be refused with InvalidGlobalClusterStateFault. Wait for it, then read the roles again.
            self._wait_global(action, to_region, resource, None, "the previous operation finished")
            found, from_region = self._global_writer(to_region)
        if from_region == to_region:
            return self._done(action, start, None, skipped=True, reason=f"{to_region} already writes",
                              to_region=to_region)
        rds = self.client("rds", to_region)
        args = {"GlobalClusterIdentifier": ident, "TargetDbClusterIdentifier": cluster["DBClusterArn"]}
        recovery = {"call": "failback", "args": {"to_region": from_region}} if from_region else None
        self._ahead(recovery)
        try:
            if allow_data_loss:
                rds.failover_global_cluster(**args, AllowDataLoss=True)
            else:
                rds.switchover_global_cluster(**args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            hint = ("the primary region may be lost: a switchover needs every cluster healthy and in sync; if the "
                    "experiment declares the primary region lost, pass allow_data_loss: true to promote_secondary"
                    if not allow_data_loss else "read the global cluster's RDS events")
            raise GameDayError(f"{action} of {resource} on target aws failed: {code or exc}", hint=hint) from exc
        waited = None if self.dry_run else self._wait_global(action, to_region, resource, cluster["DBClusterArn"],
                                                             f"{cluster['DBClusterIdentifier']} writes")
        return self._done(action, start, recovery, from_region=from_region, to_region=to_region,
                          global_cluster=ident, managed="failover" if allow_data_loss else "switchover",
                          allow_data_loss=bool(allow_data_loss), waited_s=waited)

    def promote_secondary(self, to_region: str | None = None, allow_data_loss: bool = False) -> dict:
        """Promote the secondary region's cluster of the Aurora global database and wait until it writes: a managed
        switchover (no data loss; needs the primary healthy) unless `allow_data_loss`, which the experiment sets
        only when it declares the primary region lost: then a managed failover (AllowDataLoss=True)."""
        return self._global_move("promote_secondary", to_region or self.profile.regions.secondary,
                                 allow_data_loss=bool(allow_data_loss))

    def failback(self, to_region: str | None = None) -> dict:
        """Planned, zero-loss switchover of the global cluster back to `to_region` (default: the primary), after any
        failover still under way has finished; waits until `to_region` writes."""
        return self._global_move("failback", to_region or self.profile.regions.primary, allow_data_loss=False)

    def promote_read_replica(self, region: str) -> dict:
        """RDS PostgreSQL (non-Aurora): promote `region`'s read replica to a standalone writer. One-way."""
        start = self._clock()
        ident = self._need(self.profile.resources.database.replica_instances.get(region), f"a read replica in {region}")
        rds = self.client("rds", region)
        instance = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        self._guard("promote_read_replica", f"DB instance {ident} ({region})", region, instance.get("TagList"))
        self._ahead(None)
        rds.promote_read_replica(DBInstanceIdentifier=ident)
        return self._done("promote_read_replica", start, None, region=region, instance=ident,
                          source=instance.get("ReadReplicaSourceDBInstanceIdentifier"),
                          note="one-way: rebuild a replica by hand (no API undoes a promotion)")

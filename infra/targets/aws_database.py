"""The AWS driver's database faults and remediations: Aurora cluster failover, global-cluster failover and
switchover, read-replica promotion (mixed into infra.targets.aws.AwsTarget)."""

from __future__ import annotations

from gameday.base.errors import GameDayError, InvalidInput


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
        """Fail `region`'s cluster over to `target_instance` (default: its first reader)."""
        start = self._clock()
        cluster = self._cluster(region)
        ident = cluster["DBClusterIdentifier"]
        self._guard("failover_cluster", f"DB cluster {ident} ({region})", region, cluster.get("TagList"))
        members = cluster.get("DBClusterMembers", [])
        writer = next((m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")), None)
        readers = [m["DBInstanceIdentifier"] for m in members if not m.get("IsClusterWriter")]
        target = target_instance or (readers[0] if readers else None)
        if target_instance is not None and target_instance == writer:  # idempotent as a recovery
            return self._done("failover_cluster", start, None, region=region, cluster=ident, skipped=True,
                              reason=f"{writer} is the writer already")
        if not target or target == writer:
            raise InvalidInput(f"failover of DB cluster {ident} ({region}) on target aws refused: no other instance "
                               f"to fail over to (writer {writer}, readers {readers or 'none'}); nothing was changed")
        recovery = {"call": "failover_cluster", "args": {"region": region, "target_instance": writer}}
        self._ahead(recovery)
        self.client("rds", region).failover_db_cluster(DBClusterIdentifier=ident, TargetDBInstanceIdentifier=target)
        return self._done("failover_cluster", start, recovery, region=region, cluster=ident, from_instance=writer,
                          to_instance=target)

    def kill_db_writer(self) -> dict:
        """Take the writer instance away: a cluster failover in the writer region (Aurora's nearest to a kill)."""
        writers = self.writer_regions()
        if not writers:
            raise GameDayError("kill of the database writer on target aws failed: no cluster has a writer instance",
                               hint="check resources.database.clusters in the target profile")
        return {**self.failover_cluster(writers[0]), "action": "kill_db_writer"}

    def _global_writer(self, region: str) -> tuple[dict, str | None]:
        ident = self._need(self.profile.resources.database.global_cluster_id, "an Aurora global cluster")
        found = self.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=ident)["GlobalClusters"][0]
        writer_arn = next((m["DBClusterArn"] for m in found.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)
        return found, (writer_arn.split(":")[3] if writer_arn else None)

    def _global_move(self, action: str, to_region: str, *, failover: bool) -> dict:
        # Called through the target region's endpoint: during a region outage the old primary may not answer.
        start = self._clock()
        found, from_region = self._global_writer(to_region)
        cluster = self._cluster(to_region)
        self._guard(action, f"DB cluster {cluster['DBClusterIdentifier']} ({to_region}) of global cluster "
                    f"{found['GlobalClusterIdentifier']}", to_region, cluster.get("TagList"))
        if from_region == to_region:
            return self._done(action, start, None, skipped=True, reason=f"{to_region} already writes",
                              to_region=to_region)
        rds = self.client("rds", to_region)
        args = {"GlobalClusterIdentifier": found["GlobalClusterIdentifier"],
                "TargetDbClusterIdentifier": cluster["DBClusterArn"]}
        recovery = {"call": "failback", "args": {"to_region": from_region}} if from_region else None
        self._ahead(recovery)
        if failover:
            rds.failover_global_cluster(**args, AllowDataLoss=True)
        else:
            rds.switchover_global_cluster(**args)
        return self._done(action, start, recovery, from_region=from_region, to_region=to_region,
                          global_cluster=found["GlobalClusterIdentifier"],
                          managed="failover" if failover else "switchover")

    def promote_secondary(self, to_region: str | None = None) -> dict:
        """Emergency: Aurora Global Database managed failover (AllowDataLoss) to the secondary region's cluster."""
        return self._global_move("promote_secondary", to_region or self.profile.regions.secondary, failover=True)

    def failback(self, to_region: str | None = None) -> dict:
        """Planned, zero-loss switchover of the global cluster back to `to_region` (default: the primary)."""
        return self._global_move("failback", to_region or self.profile.regions.primary, failover=False)

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

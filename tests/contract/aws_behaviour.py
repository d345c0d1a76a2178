"""A stateful stand-in for the AWS operations moto lacks or answers instantly: an Aurora global database and its
clusters, and an ElastiCache replication group, going through their asynchronous states.

It hooks a botocore client's `before-call` event, like botocore's Stubber, but answers from state instead of a
fixed queue: a failover or switchover leaves the global cluster `failing-over`/`switching-over` for `busy_reads`
describe calls, then swaps the roles; a second operation meanwhile raises InvalidGlobalClusterStateFault, as AWS
does. Requests are validated by botocore against the real service model before the hook runs, and every answer is
validated against the operation's output shape, so a misspelt field fails here as it would against AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

ACCOUNT = "123456789012"
TAGS = [{"Key": "gameday", "Value": "allowed"}]


def cluster_arn(region: str, ident: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{ident}"


def _error(code: str, message: str) -> tuple[AWSResponse, dict]:
    return AWSResponse(None, 400, {}, None), {"Error": {"Code": code, "Message": message},
                                              "ResponseMetadata": {"HTTPStatusCode": 400}}


class _Behaviour:
    """Answers the operations in `handlers` of the clients it is attached to (others go on to moto)."""

    service = ""
    calls: list[tuple[str, str, dict]]

    def attach(self, client, region: str) -> None:
        """Answer from state for `client` (or every client a boto3 Session makes after this call)."""
        events = client.meta.events if hasattr(client, "meta") else client.events
        events.register(f"before-call.{self.service}", self._handler(region))

    def install(self, monkeypatch) -> None:
        """Answer for every client made from now on, in any session (a command that makes its own: the CLI), as
        moto installs itself: a handler appended to botocore's built-in ones."""
        import botocore.handlers

        def keep_params(params, context, **_):  # a client outside the driver's recorder (chaostoolkit-aws's)
            context.setdefault("gameday_call", {"params": dict(params)})
        monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS",
                            [*botocore.handlers.BUILTIN_HANDLERS,
                             (f"before-parameter-build.{self.service}", keep_params),
                             (f"before-call.{self.service}", self._handler(None))])

    def _handler(self, region: str | None):
        def on_call(model, context, **_):
            handler = getattr(self, f"_{model.name}", None)
            if handler is None:
                return None
            params = context.get("gameday_call", {}).get("params", {})  # the driver's recorder keeps them
            self.calls.append((region, model.name, params))
            answer = handler(region, params)
            if isinstance(answer, tuple):
                return answer
            validate_parameters(answer, model.output_shape)
            return AWSResponse(None, 200, {}, None), {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return on_call

    def names(self) -> list[str]:
        return [name for _, name, _ in self.calls]


@dataclass
class GlobalDatabase(_Behaviour):
    """An Aurora global database over one cluster per region; `writer` is the writing region."""

    clusters: dict[str, str]                  # region -> cluster identifier
    writer: str
    busy_reads: int = 3                       # describe calls an operation stays under way for
    instances: dict[str, list[str]] = field(default_factory=dict)  # region -> instances, writer first
    ident: str = "app-global"
    tagged: bool = True
    global_tagged: bool = True
    refuse: str | None = None                 # an error code AWS answers the next failover/switchover with
    service = "rds"

    def __post_init__(self) -> None:
        self.calls = []
        self.operation: dict | None = None    # FailoverState while under way, with `left` reads
        self.cluster_ops: dict[str, dict] = {}  # region -> in-region failover under way

    # --- state -------------------------------------------------------------------------------------
    def _tick(self) -> None:
        op = self.operation
        if op is not None:
            op["left"] -= 1
            if op["left"] <= 0:
                self.writer, self.operation = op["to"], None

    def _member(self, region: str) -> dict:
        return {"DBClusterArn": cluster_arn(region, self.clusters[region]), "IsWriter": region == self.writer,
                "Readers": [cluster_arn(r, c) for r, c in self.clusters.items() if r != region]
                if region == self.writer else []}

    # --- operations ----------------------------------------------------------------------------------
    def _DescribeGlobalClusters(self, region: str, params: dict):
        self._tick()
        found = {"GlobalClusterIdentifier": self.ident, "GlobalClusterArn": f"arn:aws:rds::{ACCOUNT}:global-cluster:"
                 f"{self.ident}", "Status": "available", "TagList": TAGS if self.global_tagged else [],
                 "GlobalClusterMembers": [self._member(r) for r in self.clusters]}
        if self.operation is not None:
            op = self.operation
            found["Status"] = op["status"]
            arn = {r: cluster_arn(r, self.clusters[r]) for r in (op["from"], op["to"])}
            found["FailoverState"] = {"Status": op["status"], "FromDbClusterArn": arn[op["from"]],
                                      "ToDbClusterArn": arn[op["to"]], "IsDataLossAllowed": op["data_loss"]}
        return {"GlobalClusters": [found]}

    def _DescribeDBClusters(self, region: str, params: dict):
        ident = params.get("DBClusterIdentifier") or self.clusters[region]
        region = next(r for r, c in self.clusters.items() if c == ident)
        op = self.cluster_ops.get(region)
        status = "available"
        if op is not None:
            op["left"] -= 1
            status = "failing-over"
            if op["left"] <= 0:
                names = self.instances[region]
                names.remove(op["to"])
                names.insert(0, op["to"])
                del self.cluster_ops[region]
                status = "available"
        members = [{"DBInstanceIdentifier": name, "IsClusterWriter": i == 0 and region == self.writer}
                   for i, name in enumerate(self.instances.get(region, []))]
        return {"DBClusters": [{"DBClusterIdentifier": ident, "DBClusterArn": cluster_arn(region, ident),
                                "Status": status, "TagList": TAGS if self.tagged else [],
                                "DBClusterMembers": members}]}

    def _start(self, params: dict, *, data_loss: bool, status: str):
        if self.refuse:
            return _error(self.refuse, "refused by the behaviour layer (e.g. the primary region does not answer)")
        if self.operation is not None:
            return _error("InvalidGlobalClusterStateFault", f"Global cluster {self.ident} is {self.operation['status']}"
                          " and cannot be switched over or failed over now")
        to = next(r for r, c in self.clusters.items() if cluster_arn(r, c) == params["TargetDbClusterIdentifier"])
        self.operation = {"status": status, "from": self.writer, "to": to, "data_loss": data_loss,
                          "left": self.busy_reads}
        return {"GlobalCluster": {"GlobalClusterIdentifier": self.ident, "Status": status}}

    def _FailoverGlobalCluster(self, region: str, params: dict):
        return self._start(params, data_loss=bool(params.get("AllowDataLoss")), status="failing-over")

    def _SwitchoverGlobalCluster(self, region: str, params: dict):
        return self._start(params, data_loss=False, status="switching-over")

    def _FailoverDBCluster(self, region: str, params: dict):
        region = next(r for r, c in self.clusters.items() if c == params["DBClusterIdentifier"])
        if region in self.cluster_ops:
            return _error("InvalidDBClusterStateFault", f"DB cluster {params['DBClusterIdentifier']} is failing-over")
        self.cluster_ops[region] = {"to": params["TargetDBInstanceIdentifier"], "left": self.busy_reads}
        return {"DBCluster": {"DBClusterIdentifier": params["DBClusterIdentifier"], "Status": "failing-over"}}


@dataclass
class ReplicationGroup(_Behaviour):
    """An ElastiCache replication group (cluster mode disabled: one node group, roles reported)."""

    ident: str = "app-cache"
    region: str = "eu-central-1"
    nodes: list[str] = field(default_factory=lambda: ["app-cache-001", "app-cache-002"])  # primary first
    busy_reads: int = 3
    used: int = 0
    service = "elasticache"

    def __post_init__(self) -> None:
        self.calls = []
        self.left = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:elasticache:{self.region}:{ACCOUNT}:replicationgroup:{self.ident}"

    def _DescribeReplicationGroups(self, region: str, params: dict):
        status = "available"
        if self.left > 0:
            self.left -= 1
            status = "modifying"
            if self.left == 0:
                self.nodes = self.nodes[1:] + self.nodes[:1]
                status = "available"
        members = [{"CacheClusterId": n, "CurrentRole": "primary" if i == 0 else "replica"}
                   for i, n in enumerate(self.nodes)]
        return {"ReplicationGroups": [{"ReplicationGroupId": self.ident, "ARN": self.arn, "Status": status,
                                       "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": members}]}]}

    def _ListTagsForResource(self, region: str, params: dict):
        return {"TagList": TAGS}

    def _DescribeEvents(self, region: str, params: dict):
        return {"Events": [{"SourceIdentifier": self.ident, "SourceType": "replication-group",
                            "Message": "Test Failover API called for node group 0001"}] * self.used}

    def _TestFailover(self, region: str, params: dict):
        if self.left > 0:
            return _error("InvalidReplicationGroupState", f"Replication group {self.ident} is not available")
        self.left, self.used = self.busy_reads, self.used + 1
        return {"ReplicationGroup": {"ReplicationGroupId": self.ident, "Status": "modifying"}}


@dataclass
class FisExperiments(_Behaviour):
    """FIS: a started experiment is `initiating` for `busy_reads` GetExperiment calls, then `running` (or `failed`
    when `stop_alarm_in_alarm`, as FIS does when a stop condition is in ALARM at start); a stopped one is
    `stopping` for `busy_reads` calls (FIS undoes its actions), then `stopped`."""

    template: str = "EXT1a2b3c4d5e6f7"
    busy_reads: int = 3
    stop_alarm_in_alarm: bool = False
    service = "fis"

    def __post_init__(self) -> None:
        self.calls = []
        self.experiments: dict[str, dict] = {}

    def _GetExperimentTemplate(self, region: str, params: dict):
        return {"experimentTemplate": {"id": self.template, "tags": {"gameday": "allowed"}}}

    def _StartExperiment(self, region: str, params: dict):
        ident = f"EXP{len(self.experiments) + 1}"
        self.experiments[ident] = {"status": "initiating", "left": self.busy_reads, "tags": params.get("tags", {})}
        return {"experiment": {"id": ident, "experimentTemplateId": self.template, "state": {"status": "initiating"},
                               "tags": params.get("tags", {})}}

    def _GetExperiment(self, region: str, params: dict):
        found = self.experiments[params["id"]]
        reason = None
        if found["left"] > 0:
            found["left"] -= 1
            if found["left"] == 0:
                if found["status"] == "initiating":
                    found["status"] = "failed" if self.stop_alarm_in_alarm else "running"
                elif found["status"] == "stopping":
                    found["status"] = "stopped"
        if found["status"] == "failed":
            reason = "Stop condition alarm gameday-abort is in ALARM state"
        state = {"status": found["status"], **({"reason": reason} if reason else {})}
        return {"experiment": {"id": params["id"], "experimentTemplateId": self.template, "state": state}}

    def _StopExperiment(self, region: str, params: dict):
        found = self.experiments[params["id"]]
        found["status"], found["left"] = "stopping", self.busy_reads
        return {"experiment": {"id": params["id"], "state": {"status": "stopping"}}}


@dataclass
class FisAccount(_Behaviour):
    """FIS's account-wide state (moto has none): the safety lever and the experiments active in the account."""

    lever: str = "disengaged"
    active: int = 0
    service = "fis"

    def __post_init__(self) -> None:
        self.calls = []

    def _GetSafetyLever(self, region: str, params: dict):
        state = {"status": self.lever, **({"reason": "engaged by the on-call"} if self.lever != "disengaged" else {})}
        return {"safetyLever": {"id": params["id"], "arn": f"arn:aws:fis:{region}:{ACCOUNT}:safety-lever/default",
                                "state": state}}

    def _ListExperiments(self, region: str, params: dict):
        running = [{"id": f"EXPother{i}", "state": {"status": "running"}} for i in range(self.active)]
        return {"experiments": [*running, {"id": "EXPdone", "state": {"status": "completed"}}]}


@dataclass
class ServiceQuotas(_Behaviour):
    """Service Quotas' applied values (moto knows only VPC's): the FIS "Active experiments" quota, if set."""

    fis_active: float | None = None
    service = "service-quotas"

    def __post_init__(self) -> None:
        self.calls = []

    def _ListServiceQuotas(self, region: str, params: dict):
        if self.fis_active is None:
            return _error("NoSuchResourceException", "no quotas for service fis")
        return {"Quotas": [{"ServiceCode": "fis", "QuotaName": "Active experiments", "QuotaCode": "L-EXAMPLE1",
                            "Value": self.fis_active}]}


@dataclass
class SecurityTokenService(_Behaviour):
    """STS with a clock: AssumeRole issues credentials valid for DurationSeconds (900..43200 s, default 3600) from
    `clock()`, and `check_signing` refuses, as AWS does with ExpiredToken, a call whose credentials have expired by
    then. Attach it to the session the driver assumes its role from (`attach_session`), and `check_signing` to the
    driver's own session."""

    clock: object = None                                  # () -> epoch seconds, the simulated time
    calls: list = field(default_factory=list)
    issued: dict = field(default_factory=dict)            # access key -> expiry (epoch s)
    refused: list = field(default_factory=list)           # (operation, seconds past the expiry)
    service = "sts"

    def attach_session(self, session, region: str) -> None:
        def keep_params(params, context, **_):  # outside the driver's recorder: keep the API parameters here
            context["gameday_call"] = {"params": dict(params)}
        session.events.register("before-parameter-build.sts.AssumeRole", keep_params)
        self.attach(session, region)

    def _AssumeRole(self, region: str, params: dict):
        duration = params.get("DurationSeconds", 3600)
        if not 900 <= duration <= 43200:
            return _error("ValidationError", f"DurationSeconds {duration} is outside 900..43200")
        key = f"ASIA{len(self.issued):016d}"
        self.issued[key] = self.clock() + duration
        return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": "secret", "SessionToken": f"token-{key}",
                                "Expiration": datetime.fromtimestamp(self.issued[key], UTC)},
                "AssumedRoleUser": {"AssumedRoleId": f"AROA:{params['RoleSessionName']}",
                                    "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/gameday/{params['RoleSessionName']}"}}

    def check_signing(self, session) -> None:
        """Before each of the driver's calls: the credentials that will sign it (refreshed first when botocore
        decides to, exactly as its signer does) must not have expired at the simulated time."""
        def on_call(model, request_signer, **_):
            frozen = request_signer._credentials.get_frozen_credentials()
            expiry = self.issued.get(frozen.access_key)
            if expiry is not None and expiry <= self.clock():
                self.refused.append((model.name, self.clock() - expiry))
                return _error("ExpiredToken", "The security token included in the request is expired")
            return None
        session.events.register("before-call", on_call)


@dataclass
class IamSimulator(_Behaviour):
    """IAM's policy simulator (moto has none): every action `allowed` unless `denied` names its decision."""

    denied: dict = field(default_factory=dict)  # action -> "implicitDeny" | "explicitDeny"
    calls: list = field(default_factory=list)
    service = "iam"

    def _SimulatePrincipalPolicy(self, region, params: dict):
        return {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": "*",
                                       "EvalDecision": self.denied.get(action, "allowed")}
                                      for action in params["ActionNames"]], "IsTruncated": False}


@dataclass
class LambdaAccount(_Behaviour):
    """Lambda's account settings (moto has none): the concurrency limit and what reservations leave of it."""

    limit: int = 1000
    unreserved: int = 900
    calls: list = field(default_factory=list)
    service = "lambda"

    def _GetAccountSettings(self, region, params: dict):
        return {"AccountLimit": {"ConcurrentExecutions": self.limit, "UnreservedConcurrentExecutions": self.unreserved},
                "AccountUsage": {"FunctionCount": 2}}

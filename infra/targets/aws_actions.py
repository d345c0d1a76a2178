"""Every AWS API action the AWS driver may call: the recorder refuses any other, and the GameDay role grants
exactly these (tests/contract/test_iam_policy.py compares them with infra/aws/gameday-role.yaml)."""

from __future__ import annotations

#: Actions that need no IAM permission (every principal may call them).
UNPERMISSIONED = frozenset({"sts:GetCallerIdentity"})

#: Read-only actions: granted on the resources the GameDay touches, without a tag condition (tags are read by them).
READ_ACTIONS = frozenset({
    "route53:GetHealthCheck", "route53:ListResourceRecordSets", "route53:ListTagsForResource",
    "route53:GetHealthCheckStatus", "cloudwatch:DescribeAlarms",  # chaostoolkit-aws's probes (aws_readings.py)
    "cloudwatch:DescribeAlarmHistory",  # detection criteria (aws_alarms.py)
    "rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeGlobalClusters",
    "lambda:GetFunctionConfiguration", "lambda:ListTags", "lambda:GetFunctionConcurrency",
    "lambda:GetProvisionedConcurrencyConfig", "lambda:GetAlias",
    "s3:GetBucketPolicy", "s3:GetBucketTagging",
    "ssm:GetParameter", "ssm:ListTagsForResource",
    "elasticache:DescribeReplicationGroups", "elasticache:DescribeEvents", "elasticache:ListTagsForResource",
    "fis:GetExperimentTemplate", "fis:GetExperiment", "fis:ListExperiments", "fis:ListExperimentTemplates",
    "cloudwatch:GetMetricStatistics",
    # `gameday aws check` (infra/targets/aws_readiness.py): the role's own permissions and the account's quotas
    "iam:GetRole", "iam:SimulatePrincipalPolicy", "lambda:GetAccountSettings",
    "fis:GetSafetyLever", "servicequotas:ListServiceQuotas",
    # the fault ledger and the lease in the account (infra/targets/aws_ledger.py)
    "dynamodb:Query", "dynamodb:GetItem",
})

#: Mutating actions: the role grants them only on resources carrying the GameDay tag (where IAM can say so).
WRITE_ACTIONS = frozenset({
    "route53:UpdateHealthCheck", "route53:ChangeResourceRecordSets",
    "rds:FailoverDBCluster", "rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster", "rds:PromoteReadReplica",
    "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    "lambda:PutProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig", "lambda:UpdateAlias",
    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
    "ssm:PutParameter", "ssm:DeleteParameter",
    "elasticache:TestFailover",
    "fis:StartExperiment", "fis:StopExperiment",
    # a Lambda fault's own experiment template (infra/targets/aws_lambda_faults.py)
    "fis:CreateExperimentTemplate", "fis:DeleteExperimentTemplate",
    # a fault's AWS-side expiry (infra/targets/aws_expiry.py)
    "scheduler:CreateSchedule", "scheduler:DeleteSchedule",
    "dynamodb:PutItem", "dynamodb:DeleteItem",
})

#: Permissions that are no API call of their own: creating a schedule that runs as the expiry role passes it, and
#: creating a Lambda fault's experiment template passes the region's FIS role.
PERMISSION_ONLY = frozenset({"iam:PassRole"})

#: IAM prefixes whose boto3 client has another name (every other prefix is its client's name).
CLIENT_NAMES = {"servicequotas": "service-quotas"}
IAM_PREFIXES = {client: prefix for prefix, client in CLIENT_NAMES.items()}

ACTIONS = UNPERMISSIONED | READ_ACTIONS | WRITE_ACTIONS

#: The actions the GameDay role must grant (tests compare this with the policy in gameday-role.yaml).
IAM_ACTIONS = READ_ACTIONS | WRITE_ACTIONS | PERMISSION_ONLY

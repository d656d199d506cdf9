"""The Terraform module (deploy/terraform) deploys what template.yaml deploys.

Both are evaluated for every combination of the settings that shape the
deployment (a zone by id or by name, Cloud Map namespaces, clusters, stopping
tasks, an alarm topic) and compared: the template's conditions against the
module's locals of the same names; the role's two policies statement by
statement (Sid, effect, actions, resources, conditions); the three EventBridge
rules pattern by pattern; the function's settings and environment; the three
alarms; and every parameter against its variable (default, and the values its
validation accepts). A change to either side alone fails here.
"""

import copy
import itertools
import json
import re
from pathlib import Path

import pytest

import cfn_eval
from hcl_eval import Module

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
MODULE = REPO / "deploy" / "terraform"

PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": "reaper",
}
SYMBOLS = {
    "data.aws_partition.current.partition": PARTITION,
    "data.aws_region.current.name": REGION,
    "data.aws_caller_identity.current.account_id": ACCOUNT,
}
# The template's resources as the module names them. CloudFormation's log group
# Arn ends in ":*" (every stream); the provider's does not, so the module adds it.
SAME_RESOURCE = {
    "${LogGroup.Arn}": "${aws_cloudwatch_log_group.reaper.arn}:*",
    "${DeadLetterQueue.Arn}": "${aws_sqs_queue.dead_letter.arn}",
    "${DeadLetterQueue.QueueName}": "${aws_sqs_queue.dead_letter.name}",
    "${ReaperFunction}": "${aws_lambda_function.reaper.function_name}",
    "${LogGroup}": "${aws_cloudwatch_log_group.reaper.name}",
}
# Settings that only one side has: what CloudFormation takes from the stack.
TERRAFORM_ONLY = {"name", "package_file", "tags"}
# Parameters whose SAM form is a comma-separated list, or "true"/"false".
LISTS = {"CloudMapNamespaces", "EcsClusters", "SubnetIds", "SecurityGroupIds"}

NETWORK = {"subnet_ids": ["subnet-0aaa", "subnet-0bbb"], "security_group_ids": ["sg-0ccc"]}
AXES = {
    "hosted_zone_id": ["", "Z0123456789ABC"],
    "dns_namespace": ["", "servicediscovery.internal"],
    "cloud_map_namespaces": [[], ["apps.internal", "ns-kxlxadmgf1uon5c9"]],
    "ecs_clusters": [[], ["web", "batch", "edge"]],
    "stop_unhealthy_tasks": [False, True],
    "alarm_topic_arn": ["", f"arn:aws:sns:{REGION}:{ACCOUNT}:ops"],
}
SCENARIOS = [dict(zip(AXES, combo), **NETWORK) for combo in itertools.product(*AXES.values())]


def pascal(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def snake(pascal_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", pascal_name).lower()


def to_sam(value):
    """A Terraform value as the SAM parameter would hold it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def sam_values(tf_values):
    return {pascal(k): to_sam(v) for k, v in tf_values.items()}


def as_list(value):
    return value if isinstance(value, list) else [value]


def same(value):
    """A resolved template value in the module's terms."""
    if isinstance(value, str):
        return SAME_RESOURCE.get(value, value)
    if isinstance(value, list):
        return [same(v) for v in value]
    if isinstance(value, dict):
        return {k: same(v) for k, v in value.items()}
    return value


# --- the two sides, evaluated ---


def template_side(template, values):
    return cfn_eval.Stack(template, sam_values(values), PSEUDO)


def module_side(module, values):
    return module.evaluator(values, SYMBOLS)


def template_policies(stack):
    role = stack.resolve(stack.resources["ReaperRole"]["Properties"])
    out = {}
    for policy in role["Policies"]:
        statements = []
        for s in policy["PolicyDocument"]["Statement"]:
            conditions = {}
            for test, pairs in s.get("Condition", {}).items():
                for variable, vals in pairs.items():
                    conditions[(test, variable)] = as_list(vals)
            statements.append(
                {
                    "Sid": s["Sid"],
                    "Effect": s["Effect"],
                    "Action": sorted(as_list(s["Action"])),
                    "Resource": sorted(same(as_list(s["Resource"]))),
                    "Condition": conditions,
                }
            )
        out[policy["PolicyName"]] = statements
    return out


def module_policies(ev):
    names = {
        "reaper-calls": ("aws_iam_role_policy", "reaper_calls"),
        "lambda-platform": ("aws_iam_role_policy", "lambda_platform"),
    }
    out = {}
    for policy_name, (kind, name) in names.items():
        attrs, _ = ev.resource(kind, name)
        assert attrs["name"] == policy_name
        # policy = data.aws_iam_policy_document.<doc>.json
        doc = str(attrs["policy"])
        match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", doc)
        assert match, f"{name}: the policy is an aws_iam_policy_document ({doc})"
        _, blocks = ev.data_source("aws_iam_policy_document", match.group(1))
        statements = []
        for _, (s, inner) in blocks.get("statement", []):
            conditions = {}
            for _, (c, _) in inner.get("condition", []):
                conditions[(c["test"], c["variable"])] = c["values"]
            statements.append(
                {
                    "Sid": s.get("sid"),
                    "Effect": s.get("effect", "Allow"),
                    "Action": sorted(s["actions"]),
                    "Resource": sorted(str(r) for r in s["resources"]),
                    "Condition": conditions,
                }
            )
        out[policy_name] = statements
    return out


def template_rules(stack):
    """The three triggers: schedule, EC2 instance gone, ECS task stopped."""
    function = stack.resolve(stack.resources["ReaperFunction"]["Properties"])
    events = function["Events"]
    schedule = next(e for e in events.values() if e["Type"] == "Schedule")
    ec2 = next(e for e in events.values() if e["Type"] == "EventBridgeRule")
    ecs = stack.resolve(stack.resources["EcsTaskStoppedRule"]["Properties"])
    pattern = ecs["EventPattern"]
    return {
        "sweep": schedule["Properties"]["Schedule"],
        "ec2_instance_gone": ec2["Properties"]["Pattern"],
        "ecs_task_stopped": json.loads(pattern) if isinstance(pattern, str) else pattern,
    }


def module_rules(ev):
    sweep, _ = ev.resource("aws_cloudwatch_event_rule", "sweep")
    ec2, _ = ev.resource("aws_cloudwatch_event_rule", "ec2_instance_gone")
    ecs, _ = ev.resource("aws_cloudwatch_event_rule", "ecs_task_stopped")
    return {
        "sweep": sweep["schedule_expression"],
        "ec2_instance_gone": json.loads(ec2["event_pattern"]),
        "ecs_task_stopped": json.loads(ecs["event_pattern"]),
    }


def differences(template, module, values):
    """Every way the two deployments differ for one set of values."""
    stack, ev = template_side(template, values), module_side(module, values)
    diffs = []
    for name in template["Conditions"]:
        if stack.condition(name) != ev.local(snake(name)):
            diffs.append(f"condition {name}: template {stack.condition(name)}, module local.{snake(name)} {ev.local(snake(name))}")
    if stack.rules_hold() != (ev.local("sweeps_zone") or ev.local("sweeps_cloud_map")):
        diffs.append("SomethingToSweep: the template's rule and the module's precondition disagree")

    ours, theirs = template_policies(stack), module_policies(ev)
    for policy in ours:
        a, b = ours[policy], theirs.get(policy, [])
        if [s["Sid"] for s in a] != [s["Sid"] for s in b]:
            diffs.append(f"{policy}: statements {[s['Sid'] for s in a]} vs {[s['Sid'] for s in b]}")
        for sa, sb in zip(a, b):
            for field in ("Effect", "Action", "Resource", "Condition"):
                if sa[field] != sb[field]:
                    diffs.append(f"{policy} {sa['Sid']} {field}: template {sa[field]} vs module {sb[field]}")

    rules_a, rules_b = template_rules(stack), module_rules(ev)
    for rule in rules_a:
        if rules_a[rule] != rules_b[rule]:
            diffs.append(f"rule {rule}: template {rules_a[rule]} vs module {rules_b[rule]}")
    return diffs


@pytest.fixture(scope="module")
def template():
    return cfn_eval.load(TEMPLATE)


@pytest.fixture(scope="module")
def module():
    return Module(MODULE)


def scenario_id(values):
    return ",".join(f"{k}={to_sam(v) or '-'}" for k, v in values.items() if k in AXES)


@pytest.mark.parametrize("values", SCENARIOS, ids=scenario_id)
def test_same_role_rules_and_conditions(template, module, values):
    assert differences(template, module, values) == []


def test_every_statement_of_the_template_is_reached(template, module):
    """The scenarios between them grant every statement of the template."""
    seen = set()
    for values in SCENARIOS:
        for statements in template_policies(template_side(template, values)).values():
            seen.update(s["Sid"] for s in statements)
    declared = set(re.findall(r"Sid: (\w+)", TEMPLATE.read_text(encoding="utf-8")))
    assert declared - seen == set()


def test_a_change_on_either_side_alone_is_caught(template, module):
    values = dict(SCENARIOS[-1])
    assert differences(template, module, values) == []

    # The template grants one action more.
    changed = copy.deepcopy(template)
    statements = changed["Resources"]["ReaperRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    tasks = next(s for s in statements if isinstance(s, dict) and s.get("Sid") == "ReadEcsTasks")
    tasks["Action"] = ["ecs:DescribeTasks", "ecs:ListTasks"]
    assert any("ReadEcsTasks Action" in d for d in differences(changed, module, values))

    # The module drops a condition key, or a pattern's value.
    for file, old, new, expect in [
        ("main.tf", 'values   = ["SRV", "CNAME", "A"]', 'values   = ["SRV", "CNAME", "A", "TXT"]', "DeleteZoneRecords Condition"),
        ("main.tf", '"servicediscovery:ListOperations",\n', "", "FindCloudMapServices Action"),
        ("main.tf", 'state = ["shutting-down", "terminated", "stopping", "stopped"]', 'state = ["terminated"]', "rule ec2_instance_gone"),
        ("main.tf", 'suffix = ":cluster/${c}"', 'prefix = "${c}"', "rule ecs_task_stopped"),
    ]:
        text = (MODULE / file).read_text(encoding="utf-8")
        assert old in text, old
        edited = Module(MODULE, texts={file: text.replace(old, new, 1)})
        assert any(expect in d for d in differences(template, edited, values)), expect


# --- the function, its queue and log group, and the alarms ---


def test_same_function(template, module):
    for values in (SCENARIOS[0], SCENARIOS[-1]):
        stack, ev = template_side(template, values), module_side(module, values)
        f = stack.resolve(stack.resources["ReaperFunction"]["Properties"])
        attrs, blocks = ev.resource("aws_lambda_function", "reaper")
        assert attrs["runtime"] == f["Runtime"] == "provided.al2023"
        assert attrs["handler"] == f["Handler"] == "bootstrap"
        assert attrs["memory_size"] == f["MemorySize"]
        assert attrs["reserved_concurrent_executions"] == f["ReservedConcurrentExecutions"] == 1
        assert attrs["architectures"] == f["Architectures"]
        assert str(attrs["timeout"]) == str(f["Timeout"])
        vpc = blocks["vpc_config"][0][1][0]
        assert vpc["subnet_ids"] == f["VpcConfig"]["SubnetIds"].split(",")
        assert vpc["security_group_ids"] == f["VpcConfig"]["SecurityGroupIds"].split(",")
        logging = blocks["logging_config"][0][1][0]
        assert logging["log_format"] == f["LoggingConfig"]["LogFormat"] == "JSON"
        assert str(logging["log_group"]) == same(f["LoggingConfig"]["LogGroup"])
        env = blocks["environment"][0][1][0]["variables"]
        assert env == {k: str(v) for k, v in f["Environment"]["Variables"].items()}

        invoke, inner = ev.resource("aws_lambda_function_event_invoke_config", "reaper")
        config = f["EventInvokeConfig"]
        assert str(invoke["maximum_retry_attempts"]) == config["MaximumRetryAttempts"]
        assert str(invoke["maximum_event_age_in_seconds"]) == config["MaximumEventAgeInSeconds"]
        on_failure = inner["destination_config"][0][1][1]["on_failure"][0][1][0]
        assert str(on_failure["destination"]) == same(config["DestinationConfig"]["OnFailure"]["Destination"])

        queue = stack.resolve(stack.resources["DeadLetterQueue"]["Properties"])
        q, _ = ev.resource("aws_sqs_queue", "dead_letter")
        assert q["message_retention_seconds"] == queue["MessageRetentionPeriod"]
        assert q["sqs_managed_sse_enabled"] == queue["SqsManagedSseEnabled"]

        logs = stack.resolve(stack.resources["LogGroup"]["Properties"])
        lg, _ = ev.resource("aws_cloudwatch_log_group", "reaper")
        assert str(lg["retention_in_days"]) == logs["RetentionInDays"]


ALARMS = {
    "ErrorsAlarm": "errors",
    "GuardTrippedAlarm": "guard_tripped",
    "DeadLetterQueueAlarm": "dead_letter_queue",
}


@pytest.mark.parametrize("alarm", ALARMS)
def test_same_alarms(template, module, alarm):
    alarms = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(ALARMS)
    for values in (SCENARIOS[0], SCENARIOS[-1]):
        stack, ev = template_side(template, values), module_side(module, values)
        a = stack.resolve(stack.resources[alarm]["Properties"])
        b, _ = ev.resource("aws_cloudwatch_metric_alarm", ALARMS[alarm])
        assert b["namespace"] == a["Namespace"]
        assert b["metric_name"] == a["MetricName"]
        assert b["statistic"] == a["Statistic"]
        assert b["period"] == a["Period"]
        assert b["evaluation_periods"] == a["EvaluationPeriods"]
        assert b["threshold"] == a["Threshold"]
        assert b["comparison_operator"] == a["ComparisonOperator"]
        assert b["treat_missing_data"] == a["TreatMissingData"]
        dims = {d["Name"]: same(d["Value"]) for d in a.get("Dimensions", [])}
        assert {k: str(v) for k, v in b.get("dimensions", {}).items()} == dims
        assert b["alarm_actions"] == a.get("AlarmActions", [])
        assert b["ok_actions"] == a.get("OKActions", [])


# --- the parameters and the variables ---


def probes(name, decl):
    """Values to try on a parameter: its default, its bounds, good and bad text."""
    if decl["Type"] == "Number":
        out = {decl["Default"], -1, 0, 1, 10**6}
        for key in ("MinValue", "MaxValue"):
            if key in decl:
                out |= {decl[key] - 1, decl[key], decl[key] + 1}
        out |= set(decl.get("AllowedValues", []))
        out |= {v + 1 for v in decl.get("AllowedValues", [])}
        return sorted(out)
    if "AllowedValues" in decl:
        return list(decl["AllowedValues"]) + ["", "other", "HTTP"]
    return [
        decl.get("Default", ""), "", "Z0123456789ABC", "z0123", "/hostedzone/Z1",
        "servicediscovery.internal", "servicediscovery.internal.", "a..b", "has space",
        "web", "web,api", "web,", ",web", "web,,api", "ns-kxlx,apps.internal",
        "/", "/health", "health", "/a b", "rate(5 minutes)", "cron(0 * * * ? *)", "every 5",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:ops", f"arn:aws:sns:{REGION}:1234:ops", "x" * 64,
        "_calc._tcp.example", "a" * 63 + "." + "b" * 63, "a" * 64, "c" * 255, "c" * 256,
    ]


def sam_accepts(decl, value):
    if decl["Type"] == "Number":
        if "MinValue" in decl and value < decl["MinValue"]:
            return False
        if "MaxValue" in decl and value > decl["MaxValue"]:
            return False
        return "AllowedValues" not in decl or value in decl["AllowedValues"]
    if "AllowedValues" in decl and value not in decl["AllowedValues"]:
        return False
    return "AllowedPattern" not in decl or re.fullmatch(decl["AllowedPattern"], value) is not None


def to_terraform(name, decl, value):
    if name in LISTS:
        return value.split(",") if value else []
    if decl.get("AllowedValues") == ["true", "false"]:
        return {"true": True, "false": False}.get(value)
    return value


def test_every_parameter_is_a_variable_and_back(template, module):
    params = {snake(p) for p in template["Parameters"]}
    variables = set(module.variables) - TERRAFORM_ONLY
    assert params == variables


@pytest.mark.parametrize("param", list(cfn_eval.load(TEMPLATE)["Parameters"]))
def test_same_default_and_validation(template, module, param):
    decl = template["Parameters"][param]
    name = snake(param)
    ev = module_side(module, NETWORK)
    if "Default" in decl:
        assert to_sam(ev.var(name)) == str(decl["Default"]), f"{name}: default"
    else:
        assert "default" not in ev.variable_block(name), f"{name}: required, as {param} is"
    if decl.get("AllowedValues") == ["true", "false"]:
        # A boolean: Terraform's type does the validation.
        assert str(ev.variable_block(name)["type"].children[0].children[0]) == "bool"
        return
    if decl["Type"].startswith("List<"):
        return  # lists of AWS ids: CloudFormation checks that they exist, Terraform at apply
    for value in probes(param, decl):
        tf_value = to_terraform(param, decl, value)
        if tf_value is None:
            continue
        assert ev.validation_passes(name, tf_value) == sam_accepts(decl, value), (
            f"{param} = {value!r}: template {'accepts' if sam_accepts(decl, value) else 'refuses'} it"
        )


"""template.yaml deploys unchanged as a service-managed StackSet.

A StackSet creates the same stack in many accounts and Regions: no resource may
carry a fixed physical name (two stack instances in one account would collide),
and nothing may name an account, a Region or a partition outright.
"""

import re
from pathlib import Path

import cfn_eval

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
# Properties that give a resource its physical name.
NAMES = {
    "FunctionName", "RoleName", "QueueName", "Name", "AlarmName", "LogGroupName",
    "TopicName", "PolicyName", "RuleName",
}
# Inline policies are named within their role: the name is not a physical one.
INLINE = {("AWS::IAM::Role", "PolicyName")}


def named(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in NAMES:
                yield path + (key,), value
            yield from named(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from named(value, path + (i,))


def test_no_fixed_physical_names():
    template = cfn_eval.load(TEMPLATE)
    for logical, resource in template["Resources"].items():
        for path, value in named(resource.get("Properties", {})):
            if len(path) > 1 or (resource["Type"], path[-1]) in INLINE:
                continue  # a name inside a property (a dimension's, an inline policy's)
            text = str(value)
            refers = isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value)
            assert refers or "AWS::StackName" in text, (
                f"{logical}.{'.'.join(map(str, path))} = {value}: a fixed name collides "
                "between stack instances; derive it from AWS::StackName or leave it out"
            )


def test_no_account_region_or_partition_written_out():
    text = TEMPLATE.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert not re.search(r"(?<![\d{])\d{12}(?!\d)", code), "an account id"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn)-(gov-)?(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d\b", code), "a Region"
    assert not re.search(r"arn:aws(-cn|-us-gov)?:", code), "a partition: use ${AWS::Partition}"

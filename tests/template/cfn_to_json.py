"""Prints a CloudFormation / SAM YAML template as JSON, short-form tags expanded.

    python tests/template/cfn_to_json.py template.yaml

`!Ref X` becomes {"Ref": "X"}, `!Condition X` {"Condition": "X"}, `!GetAtt A.B`
{"Fn::GetAtt": ["A", "B"]}, and every other `!Name ...` {"Fn::Name": ...}: the
long form CloudFormation itself uses. tests/permissions.rs reads the template
through this (PyYAML comes with the pinned tools of tests/template/requirements.txt).
"""

import json
import sys

import yaml


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's short-form intrinsic functions."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    key = suffix if suffix in ("Ref", "Condition") else "Fn::" + suffix
    return {key: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=CfnLoader)
    # Dates and the like (an unquoted AWSTemplateFormatVersion) print as text.
    json.dump(template, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: cfn_to_json.py TEMPLATE")
    main(sys.argv[1])

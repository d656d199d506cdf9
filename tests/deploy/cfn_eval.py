"""Evaluates template.yaml's intrinsic functions for one set of parameter values.

Reads the template with the loader of tests/template/cfn_to_json.py (long-form
intrinsics), then resolves Ref, Fn::Sub, Fn::If, Fn::Join, Fn::Split, conditions
and AWS::NoValue as CloudFormation would. Pseudo parameters take the caller's
values; `!GetAtt Res.Attr` and `!Ref Resource` stay symbols: `${Res.Attr}`, `${Res}`.
"""

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "template"))
from cfn_to_json import CfnLoader  # noqa: E402

NO_VALUE = object()


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


class Stack:
    """template.yaml with parameter values: conditions and resolved properties."""

    def __init__(self, template, values, pseudo):
        self.template = template
        self.pseudo = pseudo
        self.params = {}
        for name, decl in template["Parameters"].items():
            if name in values:
                self.params[name] = values[name]
            elif "Default" in decl:
                self.params[name] = str(decl["Default"])
            else:
                raise KeyError(f"parameter {name} has no default and no value")
        self.resources = template["Resources"]
        self._conditions = {}

    def condition(self, name):
        if name not in self._conditions:
            self._conditions[name] = self.resolve(self.template["Conditions"][name])
        return self._conditions[name]

    def rules_hold(self):
        return all(
            self.resolve(a["Assert"]) for rule in self.template.get("Rules", {}).values()
            for a in rule["Assertions"]
        )

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return "${" + name + "}"
        raise KeyError(f"unknown Ref {name}")

    def _sub(self, text, extra):
        def one(match):
            key = match.group(1)
            if key in extra:
                return str(extra[key])
            if "." in key and key.split(".")[0] in self.resources:
                return "${" + key + "}"
            return str(self._ref(key))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, list):
            out = [self.resolve(i) for i in node]
            return [i for i in out if i is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                text, extra = arg
                return self._sub(text, {k: self.resolve(v) for k, v in extra.items()})
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                sep, text = arg
                return self.resolve(text).split(sep)
            if key == "Fn::GetAtt":
                return "${" + ".".join(arg) + "}"
            if key == "Fn::Equals":
                a, b = (self.resolve(i) for i in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(i) for i in arg)
            if key == "Fn::Or":
                return any(self.resolve(i) for i in arg)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

"""Terraform's own checks and checkov, over template.yaml and deploy/terraform.

`terraform fmt -check` runs with the Terraform binary that python-hcl2's
neighbour in tests/deploy/requirements.txt ships. `terraform validate` needs the
AWS provider, which comes only from the Terraform registry: where it cannot be
reached (this project's machines reach only the package registries), the test
says so rather than pass; give it a provider mirror to run it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "deploy" / "terraform"
EXAMPLE = MODULE / "examples" / "estate"


def terraform():
    """$TERRAFORM, else the pinned binary beside this Python, else one on PATH."""
    if os.environ.get("TERRAFORM"):
        return os.environ["TERRAFORM"]
    beside = Path(sys.executable).parent / "terraform"
    return str(beside) if beside.exists() else shutil.which("terraform")


def test_terraform_fmt():
    binary = terraform()
    assert binary, "no terraform: make venv installs one (tests/deploy/requirements.txt)"
    run = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(MODULE)],
        capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, f"terraform fmt would change:\n{run.stdout}{run.stderr}"


def test_terraform_validate(tmp_path):
    mirror = os.environ.get("TF_PROVIDER_MIRROR")
    if not mirror:
        pytest.skip(
            "terraform validate NOT RUN: it needs the hashicorp/aws provider, which only "
            "the Terraform registry serves, and this machine reaches only the package "
            "registries. To run it: terraform providers mirror DIR (where the registry "
            "is reachable), then TF_PROVIDER_MIRROR=DIR TERRAFORM=<terraform 1.2 or "
            "later> make test"
        )
    copy = tmp_path / "terraform"
    shutil.copytree(MODULE, copy)
    # The example's module source is ../.., so validate it where it sits in the copy.
    example = copy / "examples" / "estate"
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    for args in (["init", "-backend=false", "-input=false", f"-plugin-dir={mirror}"], ["validate"]):
        run = subprocess.run([terraform(), *args], cwd=example, env=env,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"terraform {args[0]}:\n{run.stdout}{run.stderr}"


def checkov():
    binary = os.environ.get("CHECKOV", str(REPO / ".venv-checkov" / "bin" / "checkov"))
    assert Path(binary).exists(), f"no checkov at {binary}: make test installs it"
    return binary


@pytest.mark.parametrize(
    "framework,target",
    [("cloudformation", ["-f", "template.yaml"]), ("terraform", ["-d", "deploy/terraform"])],
)
def test_checkov_passes_and_every_skip_says_why(framework, target):
    run = subprocess.run(
        [checkov(), *target, "--framework", framework, "--skip-download",
         "--compact", "-o", "json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"].get("failed_checks", [])]
    skipped = [c for r in reports for c in r["results"].get("skipped_checks", [])]
    passed = sum(r["summary"]["passed"] for r in reports)
    print(f"checkov {framework}: {passed} passed, {len(failed)} failed, {len(skipped)} skipped")
    assert not failed, [(c["check_id"], c["resource"], c["check_name"]) for c in failed]
    assert passed > 0
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.split()) >= 8, f"{check['check_id']} on {check['resource']}: skipped without a reason"

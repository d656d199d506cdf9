"""The Lambda package `make package` builds: a zip with one executable `bootstrap`.

Run after `make package` (make package-test builds and runs this): the zip must
exist, hold `bootstrap` with its executable bits, and that must be an ELF binary
of the architecture asked for (PACKAGE_ARCH, arm64 or x86_64).
"""

import os
import stat
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "target" / "lambda" / "ecs-dns-reaper" / "bootstrap.zip"
# ELF e_machine: EM_X86_64 and EM_AARCH64.
MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}


def test_the_zip_holds_an_executable_bootstrap_for_the_architecture():
    arch = os.environ.get("PACKAGE_ARCH", "arm64")
    assert PACKAGE.exists(), f"{PACKAGE} is missing: run make package ARCH={arch}"
    with zipfile.ZipFile(PACKAGE) as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        assert "bootstrap" in names, names
        info = z.getinfo("bootstrap")
        mode = info.external_attr >> 16
        assert mode & stat.S_IXUSR, f"bootstrap is not executable: mode {oct(mode)}"
        head = z.open("bootstrap").read(64)
    assert head[:4] == b"\x7fELF", "bootstrap is not an ELF binary"
    assert head[4] == 2, "bootstrap is not a 64-bit binary"
    machine = int.from_bytes(head[18:20], "little")
    assert machine == MACHINE[arch], f"bootstrap is for machine {machine:#x}, not {arch}"

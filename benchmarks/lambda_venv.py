"""A venv that looks like a deployed function's Python: the clients layer installed from its lock
(hashes checked) and nothing else. No SAM CLI, no moto, no test or lint tools, no awscrt. In
Lambda the layer's boto3/botocore pair shadows the runtime's own (a layer's packages come first
on sys.path), so the layer's pair is the one a function runs; the lock pins it. The cold-start
and memory processes run here, floors and functions alike. Made once per lock (`.venv-lambda`,
its stamp named after the lock's hash).

The warm calls and the drain's workers run in the dev venv's interpreter (the workers are
multiprocessing's, which hands them its parent's sys.path): the same locked versions of the
layer's packages, plus awscrt, with which botocore signs through the CRT. Canned, turning that
off (BOTO_DISABLE_CRT) moved neither the retry function's CPU per envelope nor its floor's
beyond the spread between runs."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from devserver.template import ROOT

VENV = ROOT / ".venv-lambda"
LOCK = ROOT / "layers" / "clients" / "requirements.txt"


def python() -> str:
    """The Lambda-like venv's interpreter, made first if the lock changed."""
    stamp = VENV / f".installed-{hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]}"
    interpreter = VENV / "bin" / "python"
    if not stamp.exists():
        base = getattr(sys, "_base_executable", sys.executable)  # the interpreter of this venv
        subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(interpreter), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--require-hashes", "--no-deps", "-r", str(LOCK)],
            check=True,
        )  # fmt: skip
        stamp.touch()
    return str(interpreter)


def packages() -> list[str]:
    """What the venv holds, `name==version` each (the report lists them)."""
    listed = subprocess.run(
        [python(), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [
        line
        for line in listed.splitlines()
        if line and not line.startswith(("pip==", "setuptools=="))
    ]

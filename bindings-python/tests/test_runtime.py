"""The binding's runtime across fork(): a client made before fork works in the child as long as
the parent made no call; a child that inherited a started runtime gets a clear error, not a hang."""

from __future__ import annotations

import os
import sys

import pytest

from .conftest import Server

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def in_child(body: str, **values: str) -> int:
    """Runs `body` in a fresh interpreter that forks; returns the child's exit status."""
    import subprocess

    script = "import os, authgate\n" + body
    env = dict(os.environ, **values)
    return subprocess.run([sys.executable, "-c", script], env=env, timeout=60).returncode


def test_client_made_before_fork_works_in_the_child(server: Server) -> None:
    body = """
client = authgate.ScalekitClient(os.environ["URL"], os.environ["ID"], os.environ["SECRET"])
pid = os.fork()
if pid == 0:
    try:
        client.organization.list_organizations()
        os._exit(0)
    except BaseException:
        os._exit(1)
_, status = os.waitpid(pid, 0)
raise SystemExit(os.waitstatus_to_exitcode(status))
"""
    assert in_child(body, URL=server.url, ID=server.client_id, SECRET=server.client_secret) == 0


def test_runtime_used_before_fork_is_a_clear_error(server: Server) -> None:
    body = """
client = authgate.ScalekitClient(os.environ["URL"], os.environ["ID"], os.environ["SECRET"])
client.organization.list_organizations()
pid = os.fork()
if pid == 0:
    try:
        client.organization.list_organizations()
        os._exit(1)
    except authgate.ScalekitException as e:
        os._exit(0 if "fork" in str(e) else 2)
_, status = os.waitpid(pid, 0)
raise SystemExit(os.waitstatus_to_exitcode(status))
"""
    assert in_child(body, URL=server.url, ID=server.client_id, SECRET=server.client_secret) == 0

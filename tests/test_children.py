"""The processes the tests start (servers, peers) end with the test run, however it
ends: a pytest killed outright (SIGKILL, the OOM killer) leaves no server behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from children import spawn
from conftest import wait_until
from test_benchmark_hygiene import gone

HERE = os.path.dirname(os.path.abspath(__file__))

#: What a test run does with the ``server_process`` fixture: start a server, and
#: hang on in the middle of the test (its server's pid printed, for the parent).
_RUN = """
import os, sys, time
sys.path.insert(0, %r)
from conftest import ServerProcess
server = ServerProcess(sys.argv[1]).start()
print(server.proc.pid, flush=True)
time.sleep(120)
""" % HERE


def test_a_test_run_killed_outright_takes_its_server_process_with_it(sock_path):
    run = spawn([sys.executable, "-c", _RUN, sock_path],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        line = run.stdout.readline()
        assert line.strip().isdigit(), run.stderr.read()
        server = int(line)
        assert not gone(server)
        run.kill()
        run.wait(30)
        wait_until(lambda: gone(server), timeout=15)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stdout.close()
        run.stderr.close()
        if server is not None and not gone(server):  # what the old ServerProcess left
            os.kill(server, signal.SIGKILL)

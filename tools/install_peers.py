"""Install the real peers the tests talk to, as listed in ``tools/peers.toml``.

``python3 tools/install_peers.py`` apt-gets the Debian packages that are missing and
npm-installs the npm packages under ``tests/peers``; what is there already is left
alone, so a second run costs nothing. ``.ci/run`` calls it before the test suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "tools" / "peers.toml"
NODE_DIR = ROOT / "tests" / "peers"


def missing_apt(packages: list[str]) -> list[str]:
    """The Debian packages of ``packages`` that are not installed."""
    return [p for p in packages
            if subprocess.run(["dpkg-query", "-W", "-f", "${Status}", p],
                              capture_output=True, text=True).stdout
            != "install ok installed"]


def install_apt(packages: list[str]) -> None:
    missing = missing_apt(packages)
    if not missing:
        return
    print(f"install_peers: apt-get install {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env)


def install_npm(packages: list[str]) -> None:
    wanted = [p for p in packages
              if not (NODE_DIR / "node_modules" / p.rsplit("@", 1)[0] / "package.json").exists()]
    if not wanted:
        return
    if shutil.which("npm") is None:
        raise SystemExit("install_peers: npm is needed for " + " ".join(wanted))
    print(f"install_peers: npm install {' '.join(wanted)}", flush=True)
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save",
                    "--prefix", str(NODE_DIR), *wanted], check=True)


def main() -> int:
    peers = tomllib.loads(PEERS.read_text())
    install_apt(peers.get("apt", {}).get("packages", []))
    install_npm(peers.get("npm", {}).get("packages", []))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every limit of the server is a named constant, and the docs list each one."""

from __future__ import annotations

import pathlib

from gpiosvr.server import limits

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


def test_every_limit_is_in_the_reliability_doc():
    names = [n for n in vars(limits) if n.isupper()]
    assert len(names) >= 10
    text = DOC.read_text()
    missing = [n for n in names if f"`{n}`" not in text]
    assert missing == [], f"limits not listed in docs/reliability.md: {missing}"

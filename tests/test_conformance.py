"""gpiosvr.pigpio against the real pigpio 1.78 package: every public method of
``pigpio.pi`` and every public module-level name of ``pigpio`` exists here, with the
same signature (parameter names, order, kinds and defaults).

Names that other pieces of work still have to bring are in :data:`NOT_YET`; the test
also fails when one of them exists, so the set only shrinks (remove a name from it
when it lands).
"""

from __future__ import annotations

import inspect
import types

import pigpio as real
import pytest

import gpiosvr.pigpio as ours

#: Names of pigpio 1.78 not in gpiosvr.pigpio yet.
NOT_YET: set[str] = set()

#: Extra trailing parameters gpiosvr adds (each with a default, so pigpio's calls
#: work unchanged): ``error(value, code)`` keeps pigpio's error code for the caller.
EXTRA_PARAMETERS = {"error": ("code",)}

PI_METHODS = sorted(n for n in dir(real.pi) if not n.startswith("_"))
MODULE_NAMES = sorted(n for n in vars(real) if not n.startswith("_")
                      and not isinstance(getattr(real, n), types.ModuleType))


def _shape(func, extra=()) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter, annotations left out."""
    params = inspect.signature(func).parameters.values()
    return [(p.name, p.kind.name, p.default) for p in params if p.name not in extra]


def test_pigpio_1_78_is_the_reference():
    assert real.VERSION == "1.78"
    assert len(PI_METHODS) == 120


def test_not_yet_names_are_pigpio_names():
    assert NOT_YET <= set(PI_METHODS) | set(MODULE_NAMES)


@pytest.mark.parametrize("name", PI_METHODS)
def test_pi_method(name):
    if name in NOT_YET:
        assert not hasattr(ours.pi, name), f"pi.{name} landed: remove it from NOT_YET"
        return
    assert hasattr(ours.pi, name), f"pi.{name} is missing"
    theirs, mine = getattr(real.pi, name), getattr(ours.pi, name)
    if isinstance(inspect.getattr_static(real.pi, name), property):
        assert isinstance(inspect.getattr_static(ours.pi, name), property), name
        return
    assert _shape(mine) == _shape(theirs), f"pi.{name}: {inspect.signature(mine)} " \
                                            f"is not pigpio's {inspect.signature(theirs)}"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_name(name):
    if name in NOT_YET:
        assert not hasattr(ours, name), f"pigpio.{name} landed: remove it from NOT_YET"
        return
    assert hasattr(ours, name), f"pigpio.{name} is missing"
    theirs, mine = getattr(real, name), getattr(ours, name)
    if callable(theirs):
        assert callable(mine), name
        extra = EXTRA_PARAMETERS.get(name, ())
        if extra:
            tail = [p for p in inspect.signature(mine).parameters.values()
                    if p.name in extra]
            assert all(p.default is not inspect.Parameter.empty for p in tail), name
        assert _shape(mine, extra) == _shape(theirs), \
            f"pigpio.{name}: {inspect.signature(mine)} is not {inspect.signature(theirs)}"
    else:
        assert mine == theirs, f"pigpio.{name} is {mine!r}, pigpio's is {theirs!r}"

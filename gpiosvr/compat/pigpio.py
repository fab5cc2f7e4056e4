"""Drop-in ``pigpio`` module: ``PYTHONPATH=$(python -m gpiosvr.compat_path) python
script.py`` (from a clone, ``PYTHONPATH=compat``).

Importing this module binds the name ``pigpio`` to :mod:`gpiosvr.pigpio` itself, so
module state such as ``pigpio.exceptions = False`` is shared with the facade.
"""

import sys

import gpiosvr.pigpio as _facade

sys.modules[__name__] = _facade

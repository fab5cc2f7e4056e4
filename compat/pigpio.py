"""Drop-in ``pigpio`` module: ``PYTHONPATH=compat python script.py``.

Importing this module binds the name ``pigpio`` to :mod:`gpiosvr.pigpio` itself, so
module state such as ``pigpio.exceptions = False`` is shared with the facade.
"""

import sys

import gpiosvr.pigpio as _facade

sys.modules[__name__] = _facade

"""The directory that holds the drop-in ``pigpio`` module (``pigpio.py``).

Put this directory on ``PYTHONPATH`` and an unchanged ``import pigpio`` gets
:mod:`gpiosvr.pigpio`: ``PYTHONPATH=$(python -m gpiosvr.compat_path) python
script.py``. Nothing here is meant to be imported as ``gpiosvr.compat``.
"""

"""Record or play IR keys with the ``irrp`` package (irrp.py as a module, PyPI 1.0.1),
as its README shows: ``irrp.RecordReplayer(pi)``, ``record(gpio)``, ``compare`` for
the confirming press, ``replay(gpio, code)``; the codes kept in a JSON file as
pigpio's irrp.py keeps them. A plain pigpio program: the test runs it three ways in.

    irrp_keys.py record GPIO FILE KEY...     (each key pressed twice)
    irrp_keys.py play GPIO FILE KEY...
"""

import json
import sys

import pigpio

import irrp

mode, gpio, path, keys = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
pi = pigpio.pi()
if not pi.connected:
    sys.exit("no pigpio daemon")
rr = irrp.RecordReplayer(pi)
if mode == "record":
    codes = {}
    for key in keys:
        while True:
            print(f"Press key for '{key}'", flush=True)
            code = rr.record(gpio)
            print(f"Press key for '{key}' to confirm", flush=True)
            if rr.compare(code, rr.record(gpio)):
                break
            print("No match", flush=True)
        codes[key] = code
        print("Okay", flush=True)
    with open(path, "w") as f:
        json.dump(codes, f)
else:
    with open(path) as f:
        codes = json.load(f)
    for key in keys:
        print(f"key {key}", flush=True)
        rr.replay(gpio, codes[key])
pi.stop()

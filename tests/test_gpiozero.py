"""gpiozero's pigpio pin factory on top of the facade: LED, Button, DigitalInputDevice.

Each case runs an ordinary gpiozero script under ``gpiosvr-run`` (so ``import
pigpio`` is ours) in a subprocess, against the test's server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from gpiosvr.simulator import Simulator

SCRIPT = r"""
import threading
from gpiozero import Button, Device, DigitalInputDevice, LED
from gpiozero.pins.pigpio import PiGPIOFactory
from gpiosvr.simulator import Simulator

Device.pin_factory = PiGPIOFactory()
sim = Simulator()
events = []
pressed, released = threading.Event(), threading.Event()

button = Button(4, bounce_time=None)
button.when_pressed = lambda: (events.append("pressed"), pressed.set())
button.when_released = lambda: (events.append("released"), released.set())
print("button", button.is_pressed)
sim.drive(4, 0)                                   # press: pulls GPIO 4 low
assert pressed.wait(5), "no when_pressed"
print("button", button.is_pressed)
sim.release(4)                                    # the pull-up takes it high again
assert released.wait(5), "no when_released"
timer = threading.Timer(0.2, sim.drive, (4, 0))
timer.start()
print("wait_for_press", button.wait_for_press(timeout=5))
timer.join()
released.clear()
sim.release(4)
assert released.wait(5), "no second when_released"

led = LED(17)
sensor = DigitalInputDevice(27, pull_up=None, active_state=True)
sim.wire(17, 27)                                  # the LED's pin drives the sensor
active = threading.Event()
sensor.when_activated = active.set
led.on()
assert active.wait(5), "no when_activated"
print("led", led.is_lit, "sensor", sensor.value)
led.off()
print("led", led.is_lit, "sensor", sensor.value)
print("events", events)
Device.pin_factory.close()
sim.close()
"""


def test_led_button_and_input_device(server, tmp_path):
    script = tmp_path / "zero_button.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "GPIO_SOCKET_PATH": server.socket_path}
    proc = subprocess.run([sys.executable, "-m", "gpiosvr.run", str(script)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "button False", "button True", "wait_for_press True",
        "led True sensor 1", "led False sensor 0",
        "events ['pressed', 'released', 'pressed', 'released']",
    ]
    with Simulator(server.socket_path) as sim:
        assert sim.read(17) == 0

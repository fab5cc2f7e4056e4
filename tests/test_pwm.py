"""PWM, servo pulses and hardware PWM: pigpio's semantics and real simulated waveforms."""

from __future__ import annotations

import os
import subprocess
import sys

import pigpio as real_pigpio
import pytest

import gpiosvr.pigpio as pigpio
from gpiosvr.blocking import BlockingClient
from gpiosvr.server.pwm import FREQUENCIES, closest_frequency
from gpiosvr.simulator import Simulator

from conftest import OTHER_UID, ask_as, needs_root, open_to_all, wait_until


def test_pwm_settings_follow_pigpio(pi):
    assert pi.get_PWM_range(18) == 255 and pi.get_PWM_frequency(18) == 800
    assert pi.get_PWM_real_range(18) == 250
    assert pi.set_PWM_frequency(18, 1010) == 1000  # the closest one offered
    assert pi.set_PWM_frequency(18, 100000) == 8000 and pi.set_PWM_frequency(18, 1) == 10
    pi.set_PWM_frequency(18, 1000)
    assert pi.set_PWM_range(18, 100) == 200  # answers the real range
    assert pi.set_PWM_dutycycle(18, 25) == 0
    assert pi.get_PWM_dutycycle(18) == 25
    assert pi.set_PWM_range(18, 1000) == 200 and pi.get_PWM_dutycycle(18) == 250  # scaled
    pi.write(18, 0)  # a write ends PWM, as in pigpio
    with pytest.raises(pigpio.error) as info:
        pi.get_PWM_dutycycle(18)
    assert info.value.code == real_pigpio.PI_NOT_PWM_GPIO


@pytest.mark.parametrize("call,code", [
    (lambda p: p.set_PWM_dutycycle(60, 1), real_pigpio.PI_BAD_USER_GPIO),
    (lambda p: p.set_PWM_dutycycle(4, 256), real_pigpio.PI_BAD_DUTYCYCLE),
    (lambda p: p.set_PWM_range(4, 24), real_pigpio.PI_BAD_DUTYRANGE),
    (lambda p: p.set_PWM_range(4, 40001), real_pigpio.PI_BAD_DUTYRANGE),
    (lambda p: p.set_servo_pulsewidth(4, 499), real_pigpio.PI_BAD_PULSEWIDTH),
    (lambda p: p.get_servo_pulsewidth(4), real_pigpio.PI_NOT_SERVO_GPIO),
    (lambda p: p.hardware_PWM(4, 1000, 1), real_pigpio.PI_NOT_HPWM_GPIO),
    (lambda p: p.hardware_PWM(18, 1000, 1000001), real_pigpio.PI_BAD_HPWM_DUTY),
    (lambda p: p.hardware_PWM(18, -1, 5), real_pigpio.PI_BAD_HPWM_FREQ),
    (lambda p: p.hardware_PWM(18, 125_000_001, 5), real_pigpio.PI_BAD_HPWM_FREQ),
    # pigpio checks the GPIO, then the dutycycle, then the frequency
    (lambda p: p.hardware_PWM(4, 200_000_000, 2_000_000), real_pigpio.PI_NOT_HPWM_GPIO),
    (lambda p: p.hardware_PWM(18, 200_000_000, 2_000_000), real_pigpio.PI_BAD_HPWM_DUTY),
])
def test_pwm_errors(pi, call, code):
    with pytest.raises(pigpio.error) as info:
        call(pi)
    assert info.value.code == code


def test_the_frequency_table_is_pigpios():
    assert FREQUENCIES == (8000, 4000, 2000, 1600, 1000, 800, 500, 400, 320, 250, 200,
                           160, 100, 80, 50, 40, 20, 10)
    assert closest_frequency(900) == 1000 and closest_frequency(899) == 800


def test_a_pwm_output_really_toggles(pi):
    ticks = []
    pi.callback(18, pigpio.EITHER_EDGE, lambda g, level, tick: ticks.append((level, tick)))
    pi.set_PWM_frequency(18, 1000)
    pi.set_PWM_range(18, 100)
    pi.set_PWM_dutycycle(18, 25)
    levels = {pi.read(18) for _ in range(200)}  # read() samples the waveform
    wait_until(lambda: len(ticks) >= 1000, timeout=30)
    pi.set_PWM_dutycycle(18, 0)
    wait_until(lambda: ticks and ticks[-1][0] == 0)
    assert levels == {0, 1}
    # every edge from the first to the last, none lost and none extra: rising and
    # falling in turn, each rise one period after the one before
    assert [level for level, _ in ticks] == [1, 0] * (len(ticks) // 2)
    rises = [t for level, t in ticks if level == 1]
    assert {(b - a) % 2**32 for a, b in zip(rises, rises[1:])} == {1000}
    highs = [(t2 - t1) % 2**32 for (l1, t1), (l2, t2) in zip(ticks, ticks[1:]) if l1 == 1]
    assert set(highs[:-1]) == {250}  # exactly 25 % of a 1000 µs period
    assert highs[-1] <= 250  # stopping may cut the last pulse short


def test_a_wired_input_follows_a_pwm_output(pi):
    seen = []
    pi.callback(27, pigpio.RISING_EDGE, lambda g, level, tick: seen.append(tick))
    with Simulator(pi.sl.s.socket_path) as sim:
        sim.wire(17, 27)
        pi.set_PWM_frequency(17, 2000)
        pi.set_PWM_dutycycle(17, 128)
        wait_until(lambda: len(seen) >= 50)
        pi.write(17, 0)
    diffs = {(b - a) % 2**32 for a, b in zip(seen, seen[1:])}
    assert diffs == {500}  # 2000 Hz: a rise every 500 µs, exact


def test_servo_pulses_and_hardware_pwm(pi):
    pulses = []
    pi.callback(23, pigpio.EITHER_EDGE, lambda g, level, tick: pulses.append((level, tick)))
    assert pi.set_servo_pulsewidth(23, 1500) == 0
    assert pi.get_servo_pulsewidth(23) == 1500
    assert pi.get_PWM_frequency(23) == 800  # pigpio answers the PWM frequency, not 50
    wait_until(lambda: len(pulses) >= 8)
    pi.set_servo_pulsewidth(23, 0)
    widths = {(t2 - t1) % 2**32 for (l1, t1), (_, t2) in zip(pulses, pulses[1:]) if l1 == 1}
    assert widths == {1500}
    assert pi.hardware_PWM(18, 2000, 250000) == 0
    assert pi.get_PWM_dutycycle(18) == 250000 and pi.get_PWM_range(18) == 1000000
    assert pi.get_PWM_frequency(18) == 2000 and pi.get_PWM_real_range(18) == 125000
    assert {pi.read(18) for _ in range(300)} == {0, 1}
    pi.hardware_PWM(18, 0, 0)


def _getters(pi, gpio: int) -> tuple:
    """get_PWM_frequency, _dutycycle (an error: its code), _range, _real_range."""
    try:
        duty = pi.get_PWM_dutycycle(gpio)
    except pigpio.error as exc:
        duty = exc.code
    return (pi.get_PWM_frequency(gpio), duty, pi.get_PWM_range(gpio),
            pi.get_PWM_real_range(gpio))


NOT_PWM = (800, real_pigpio.PI_NOT_PWM_GPIO, 255, 250)


def test_hardware_pwm_getters_answer_what_its_channel_really_makes(pi):
    """pigpio's getters on a GPIO_HW_PWM GPIO answer its channel's hw_pwm_freq (the
    250 MHz PWM clock over a whole range), hw_pwm_duty and hw_pwm_real_range."""
    assert pi.hardware_PWM(18, 100_000_000, 500_000) == 0
    assert _getters(pi, 18) == (83_333_333, 500_000, 1_000_000, 3)
    assert pi.hardware_PWM(18, 3, 0) == 0
    assert _getters(pi, 18) == (3, 0, 1_000_000, 83_333_333)
    # GPIO 12 and 18 share channel 0: the channel's latest settings are both's
    ticks = []
    pi.callback(12, pigpio.EITHER_EDGE, lambda g, level, tick: ticks.append((level, tick)))
    assert pi.hardware_PWM(12, 2000, 250_000) == 0
    assert _getters(pi, 18) == _getters(pi, 12) == (2000, 250_000, 1_000_000, 125_000)
    assert pi.hardware_PWM(18, 4000, 100_000) == 0
    switched = pi.get_current_tick()  # 12's edges from here are the new setting's
    assert _getters(pi, 12) == (4000, 100_000, 1_000_000, 62_500)
    assert pi.hardware_PWM(13, 1000, 1000) == 0  # channel 1 is another
    assert _getters(pi, 12)[0] == 4000 and _getters(pi, 13)[0] == 1000

    def since_switch():
        return [(level, t) for level, t in list(ticks) if (t - switched) % 2**32 < 2**31]

    wait_until(lambda: len(since_switch()) >= 8)
    # 12 followed the channel: 4 kHz at 10 %, 25 µs high every 250 µs
    after = since_switch()
    highs = {(t2 - t1) % 2**32 for (l1, t1), (_, t2) in zip(after, after[1:]) if l1}
    assert highs == {25}
    # frequency 0 on 18 disables the channel: 12 goes low, but stays a hardware PWM
    # GPIO for the getters, as in pigpio; 18 is none
    assert pi.hardware_PWM(18, 0, 0) == 0
    assert pi.read(12) == 0 and pi.read(18) == 0
    assert _getters(pi, 12) == (4000, 100_000, 1_000_000, 62_500)
    assert _getters(pi, 18) == NOT_PWM
    count = len(ticks)
    assert pi.hardware_PWM(13, 0, 0) == 0
    assert len(ticks) == count and ticks[-1][0] == 0  # no edge since it went low
    assert pi.hardware_PWM(12, 0, 0) == 0 and _getters(pi, 12) == NOT_PWM


def test_hardware_pwm_off_leaves_software_pwm_alone(pi):
    """pigpio's hardware_PWM(gpio, 0, 0) changes nothing on a GPIO that runs no
    hardware PWM; hardware PWM on a software PWM GPIO ends the software PWM."""
    pi.set_PWM_dutycycle(18, 64)
    assert pi.hardware_PWM(18, 0, 0) == 0
    assert pi.get_PWM_dutycycle(18) == 64 and {pi.read(18) for _ in range(300)} == {0, 1}
    assert pi.hardware_PWM(18, 1000, 0) == 0
    assert _getters(pi, 18) == (1000, 0, 1_000_000, 250_000)
    assert {pi.read(18) for _ in range(300)} == {0}
    pi.set_PWM_dutycycle(18, 255)  # and software PWM ends hardware PWM
    assert _getters(pi, 18) == (800, 255, 255, 250) and pi.read(18) == 1
    pi.write(18, 0)


def test_hardware_clock_getters_answer_the_clocks_real_frequency(pi):
    """pigpio's getters on a GPIO_HW_CLK GPIO: hw_clk_freq (what the divisor it
    chose really gives), a dutycycle of half PI_HW_PWM_RANGE, ranges of it."""
    assert pi.hardware_clock(6, 40_000_000) == 0  # PLLD 500 MHz / 13
    assert _getters(pi, 6) == (38_461_538, 500_000, 1_000_000, 1_000_000)
    assert pi.hardware_clock(4, 5000) == 0  # 19.2 MHz / 3840
    assert _getters(pi, 4) == (5000, 500_000, 1_000_000, 1_000_000)
    assert pi.hardware_clock(20, 7000) == 0  # clock 0 too: 4 shows it at 7000 Hz now
    assert _getters(pi, 4)[0] == pi.get_PWM_frequency(20) == 7000
    assert pi.hardware_clock(20, 0) == 0  # clock 0 stops; pigpio unmarks 20 only
    assert _getters(pi, 20) == NOT_PWM
    assert _getters(pi, 4)[0] == 7000
    pi.write(4, 0)  # a write makes it an output: no clock GPIO any more
    assert _getters(pi, 4) == NOT_PWM
    pi.set_PWM_dutycycle(6, 10)  # PWM on a clock's GPIO takes it off the clock
    assert _getters(pi, 6) == (800, 10, 255, 250)
    assert pi.hardware_clock(6, 0) == 0
    assert pi.get_PWM_dutycycle(6) == 10  # the clock stopped; the PWM did not
    pi.write(6, 0)


GPIOZERO_PWM = """
from gpiozero import Device, PWMLED, Servo
from gpiozero.pins.pigpio import PiGPIOFactory
Device.pin_factory = PiGPIOFactory()
led = PWMLED(12)
led.value = 0.25
c = Device.pin_factory.connection
print("led", led.value, c.get_PWM_dutycycle(12), c.get_PWM_range(12))
servo = Servo(13)
servo.mid()
print("servo", servo.value, c.get_PWM_frequency(13), c.get_PWM_dutycycle(13))
servo.max()
print("servo max", servo.value, c.get_PWM_dutycycle(13))
Device.pin_factory.close()
"""


def test_gpiozero_pwmled_and_servo(server, tmp_path):
    script = tmp_path / "zero_pwm.py"
    script.write_text(GPIOZERO_PWM)
    proc = subprocess.run([sys.executable, "-m", "gpiosvr.run", str(script)],
                          env={**os.environ, "GPIO_SOCKET_PATH": server.socket_path},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "led 0.25 2500 10000"
    # gpiozero drives a servo with 50 Hz PWM: 1.5 ms and 2 ms of a 20 ms period
    assert lines[1:] in (["servo 0.0 50 750", "servo max 1.0 1000"],
                         ["servo -0.0 50 750", "servo max 1.0 1000"])  # gpiozero rounds


@needs_root
def test_only_the_uid_that_started_pulses_may_change_or_stop_them(server):
    open_to_all(server.socket_path)
    with BlockingClient(server.socket_path) as root:
        root.command("s", 18, 1500)
        answers = ask_as(OTHER_UID, server.socket_path,
                         "@1 s 18 1000", "@2 p 18 10", "@3 w 18 0", "@4 m 18 r",
                         "@5 prs 18 100", "@6 pfs 18 100", "@7 hp 18 1000 500000",
                         "@8 gpw 18")
        assert all("!PigpioError:-41:" in a for a in answers[:7]), answers
        assert "belongs to uid 0" in answers[0]
        assert answers[7] == "@8 1500"  # reading is for everyone
        assert root.command("gpw", 18) == 1500
        # pulses another uid started are its own: the same uid changes them (a second
        # process, as pigs would), root may too
        assert ask_as(OTHER_UID, server.socket_path, "@1 s 17 1500") == ["@1 0"]
        assert ask_as(OTHER_UID, server.socket_path, "@1 s 17 1200") == ["@1 0"]
        assert root.command("gpw", 17) == 1200
        root.command("w", 17, 0)  # root stops them; then anyone may start pulses
        assert ask_as(OTHER_UID, server.socket_path, "@1 p 17 10") == ["@1 0"]

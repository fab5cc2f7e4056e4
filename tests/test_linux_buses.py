"""The gpiod backend's Linux buses (``/dev/i2c-N``, ``/dev/spidevB.C``, ttys) where
the devices are missing: pigpio's codes with messages naming the path, nothing held
afterwards. The transfers themselves are proven on the kernel's i2c-stub and a pty in
the QEMU guest (``tests/test_backend_gpiod_buses.py``).

These run on the host: a server on the simulated chip is given the Linux buses, so no
GPIO chip is needed to reach the bus code."""

from __future__ import annotations

import os
import threading

import pigpio as real_pigpio
import pytest

from gpiosvr.blocking import BlockingClient
from gpiosvr.errors import PigpioError
from gpiosvr.server.backends.linux_buses import LinuxBuses
from gpiosvr.server.backends.sim import SimulatedChip
from gpiosvr.server.thread import ServerThread

from conftest import wait_until

C = real_pigpio


@pytest.fixture
def client(sock_dir):
    chip = SimulatedChip()
    chip.bus_provider = LinuxBuses("gpiod")
    with ServerThread(os.path.join(sock_dir, "linux.sock"), chip) as srv:
        c = BlockingClient(srv.socket_path)
        yield c
        c.close()


def refused(client, *command) -> PigpioError:
    with pytest.raises(PigpioError) as info:
        client.command(*command)
    return info.value


def lanes() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("gpiosvr-")}


def test_a_missing_i2c_bus_names_its_device_file(client):
    err = refused(client, "i2co", 97, 0x48, 0)
    assert err.code == C.PI_BAD_I2C_BUS
    assert "/dev/i2c-97" in str(err) and "does not exist" in str(err)
    assert wait_until(lambda: not any("i2c-97" in name for name in lanes()))


@pytest.mark.skipif(os.path.exists("/dev/spidev1.2"), reason="this machine has SPI 1.2")
def test_a_missing_spi_device_names_its_device_file(client):
    aux = 1 << 8
    err = refused(client, "spio", 2, 1_000_000, aux)
    assert err.code == C.PI_SPI_OPEN_FAILED and "/dev/spidev1.2" in str(err)
    # what spidev cannot do is refused before the device is tried
    err = refused(client, "spio", 0, 1_000_000, 1 << 9)
    assert err.code == C.PI_SPI_OPEN_FAILED and "3-wire" in str(err)
    err = refused(client, "spio", 0, 1_000_000, 1 << 14)
    assert err.code == C.PI_SPI_OPEN_FAILED and "bit order" in str(err)


def test_a_missing_tty_names_itself(client):
    err = refused(client, "sero", "/dev/ttyGPIOSVR-none", 9600, 0)
    assert err.code == C.PI_SER_OPEN_FAILED
    assert "/dev/ttyGPIOSVR-none" in str(err) and "does not exist" in str(err)
    assert refused(client, "sero", "/tmp/tty", 9600, 0).code == C.PI_BAD_SER_DEVICE
    assert wait_until(lambda: not any("GPIOSVR" in name for name in lanes()))


def test_a_missing_library_says_what_to_install():
    from gpiosvr.server.backends.linux_buses import _need

    with pytest.raises(PigpioError) as info:
        _need("gpiosvr_no_such_module", "I2C", "smbus2")
    assert info.value.code == C.PI_I2C_OPEN_FAILED
    assert "pip install smbus2" in str(info.value) and "'.[buses]'" in str(info.value)

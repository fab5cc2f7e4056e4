"""PigpioSocketClient: pigpio's minimal API as coroutines against a real server."""

from __future__ import annotations

import asyncio

import pytest

from gpiosvr.client_pigpio import pigpio
from gpiosvr.client_pigs import PigpioSocketClient
from gpiosvr.errors import PigpioError


@pytest.fixture
def client_run(server):
    """Run a coroutine function taking a keep-alive client, then close it."""

    def run(body):
        async def main():
            c = PigpioSocketClient(None, server.socket_path, name="pigs-test",
                                   isKeepAlive=True)
            try:
                return await body(c)
            finally:
                await c.close()

        return asyncio.run(main())

    return run


def test_minimal_api(client_run):
    async def body(c):
        assert await c.set_mode(17, pigpio.OUTPUT) == 0
        assert await c.get_mode(17) == pigpio.OUTPUT
        assert await c.write(17, 1) == 0
        assert await c.read(17) == 1
        for mode in (pigpio.ALT0, pigpio.ALT3, pigpio.ALT5, pigpio.INPUT):
            await c.set_mode(17, mode)
            assert await c.get_mode(17) == mode
        await c.set_pull_up_down(17, pigpio.PUD_UP)
        assert await c.read(17) == 1
        await c.set_pull_up_down(17, pigpio.PUD_DOWN)
        assert await c.read(17) == 0
        t1 = await c.get_current_tick()
        await asyncio.sleep(0.02)
        assert 15_000 <= pigpio.tickDiff(t1, await c.get_current_tick()) < 2_000_000
        assert await c.get_hardware_revision() == 0xA02082
        assert await c.get_pigpio_version() == 79

    client_run(body)


@pytest.mark.permit(-1)  # GPIO 40, in bank 2
def test_banks(client_run):
    async def body(c):
        await c.write(5, 0)
        await c.write(6, 0)
        await c.write(40, 0)
        await c.set_bank_1((1 << 5) | (1 << 6))
        await c.set_bank_2(1 << (40 - 32))
        bank1, bank2 = await c.read_bank_1(), await c.read_bank_2()
        assert bank1 >> 5 & 3 == 3 and bank2 >> 8 & 1 == 1
        await c.clear_bank_1(1 << 6)
        await c.clear_bank_2(1 << 8)
        assert (await c.read_bank_1()) >> 5 & 3 == 1
        assert (await c.read_bank_2()) >> 8 & 1 == 0

    client_run(body)


@pytest.mark.parametrize("call,code", [
    (lambda c: c.write(54, 1), pigpio.PI_BAD_GPIO),
    (lambda c: c.write(-1, 1), pigpio.PI_BAD_GPIO),
    (lambda c: c.write(4, 2), pigpio.PI_BAD_LEVEL),
    (lambda c: c.read(100), pigpio.PI_BAD_GPIO),
    (lambda c: c.set_mode(4, 8), pigpio.PI_BAD_MODE),
    (lambda c: c.set_mode(4, -1), pigpio.PI_BAD_MODE),
    (lambda c: c.set_pull_up_down(4, 3), pigpio.PI_BAD_PUD),
    (lambda c: c.get_mode(60), pigpio.PI_BAD_GPIO),
    (lambda c: c.set_bank_1(1 << 32), pigpio.PI_BAD_PARAM),
])
def test_bad_arguments_raise_pigpio_codes(client_run, call, code):
    async def body(c):
        with pytest.raises(PigpioError) as info:
            await call(c)
        assert info.value.code == code
        assert await c.read(4) in (0, 1)  # the connection is still fine

    client_run(body)

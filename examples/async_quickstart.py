"""Drive a simulated chip through the seed's async client.

Starts a GPIO server on a simulated chip (on a temporary socket, in this process),
then blinks GPIO 18 and reads it back with :class:`PigpioSocketClient`.
Run: ``python examples/async_quickstart.py``.
"""

import asyncio
import os
import tempfile

from gpiosvr.client_pigpio import pigpio
from gpiosvr.client_pigs import PigpioSocketClient
from gpiosvr.server.thread import ServerThread


async def blink(socket_path: str) -> None:
    client = PigpioSocketClient(None, socket_path, name="quickstart", isKeepAlive=True)
    await client.set_mode(18, pigpio.OUTPUT)
    for level in (1, 0, 1, 0):
        await client.write(18, level)
        print(f"GPIO 18 -> {level}, reads back {await client.read(18)}")
    print("server:", client.server_info)
    await client.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with ServerThread(os.path.join(tmp, "gpio.sock")) as server:
            asyncio.run(blink(server.socket_path))


if __name__ == "__main__":
    main()

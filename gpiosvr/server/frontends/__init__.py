"""Front ends other than the gpiosvr Unix socket, which :mod:`gpiosvr.server.app`
serves itself: each turns its clients' frames into the same
:class:`~gpiosvr.protocol.Command` objects and runs them through
:func:`gpiosvr.server.commands.run`, so all clients share GPIOs, callbacks, scripts
and handles.

* :mod:`~gpiosvr.server.frontends.pigpiod`: pigpiod's own socket protocol over TCP
  (``gpiosvr-server --pigpiod-port``), for every pigpio client in every language.

A front end is added to :attr:`GpioServer.frontends` before the server starts; the
server calls its ``async start()`` and ``async close()``.
"""

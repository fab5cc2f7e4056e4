"""The simulated board around the simulated chip (:mod:`gpiosvr.server.backends.sim`):
its I2C buses, SPI buses and serial ports, the devices on them and the jumper wires,
read from a TOML board file (:mod:`~gpiosvr.server.sim.board`; ``docs/board.md``).
Each device model is one module of :mod:`~gpiosvr.server.sim.devices`."""

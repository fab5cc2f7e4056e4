// Node's pigpio-client (npm) against a pigpiod front end: a write, a read and
// notifications. Usage: node pigpio_client_check.js PORT EDGES
// Prints "read N", "ready", then "edge LEVEL TICK" per notification; exits 0 once
// EDGES came, 2 after 10 s without them.
const port = Number(process.argv[2]);
const want = Number(process.argv[3]);
const pigpio = require('pigpio-client').pigpio({host: '127.0.0.1', port: port});
const stop = setTimeout(() => { console.log('timeout'); process.exit(2); }, 10000);
pigpio.on('error', (e) => { console.log('error ' + e.message); });
pigpio.once('connected', async () => {
  const led = pigpio.gpio(4);
  await led.modeSet('output');
  await led.write(1);
  console.log('read ' + await led.read());
  const button = pigpio.gpio(17);
  await button.modeSet('input');
  await button.pullUpDown(1);
  let seen = 0;
  button.notify((level, tick) => {
    if (level === null) return;
    console.log('edge ' + level + ' ' + tick);
    if (++seen === want) {
      clearTimeout(stop);
      pigpio.end(() => process.exit(0));
      setTimeout(() => process.exit(0), 1000);
    }
  });
  await pigpio.getCurrentTick();  // NB was sent before this: the notify is on
  console.log('ready');
});

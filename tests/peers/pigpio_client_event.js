// Node's pigpio-client (npm) against a pigpiod front end: its one event, the BSC
// event (31), which it monitors with EVM on its notification handle and emits as
// 'EVENT_BSC'. Usage: node pigpio_client_event.js PORT COUNT
// Prints "ready" once connected, "event N" per EVENT_BSC; exits 0 once COUNT came,
// 2 after 10 s without them.
const port = Number(process.argv[2]);
const want = Number(process.argv[3]);
const pigpio = require('pigpio-client').pigpio({host: '127.0.0.1', port: port});
const stop = setTimeout(() => { console.log('timeout'); process.exit(2); }, 10000);
pigpio.on('error', (e) => { console.log('error ' + e.message); });
let seen = 0;
pigpio.on('EVENT_BSC', () => {
  console.log('event ' + ++seen);
  if (seen === want) {
    clearTimeout(stop);
    pigpio.end(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000);
  }
});
pigpio.once('connected', () => { console.log('ready'); });

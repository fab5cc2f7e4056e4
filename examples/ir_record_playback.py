#!/usr/bin/env python3
"""Record IR remote control codes and play them back, in the manner of pigpio's
irrp.py (same options, same JSON file of codes, same method), for any pigpio.

Record (the GPIO of the IR receiver's output, the file, the names of the keys):

    ./ir_record_playback.py -r -g 17 -f codes.json power vol+ --no-confirm

Play back (the GPIO of the IR LED, the file, the keys to send):

    ./ir_record_playback.py -p -g 18 -f codes.json power

A code is a list of mark (carrier on) and space (carrier off) lengths in µs, mark
first. Recording takes the edges of the receiver from a callback: a code starts
after at least --pre ms of silence and ends after --post ms (a watchdog), and
similar lengths are averaged (within --tolerance %). Playback builds one wave per
distinct mark (--freq kHz carrier cycles) and per distinct space, and sends the
code as a wave chain.
"""

import argparse
import json
import time

import pigpio

parser = argparse.ArgumentParser(description="Record and play back IR codes.")
mode = parser.add_mutually_exclusive_group(required=True)
mode.add_argument("-r", "--record", action="store_true", help="record keys")
mode.add_argument("-p", "--play", action="store_true", help="play keys")
parser.add_argument("-g", "--gpio", type=int, required=True, help="GPIO of RX or TX")
parser.add_argument("-f", "--file", required=True, help="file of the codes")
parser.add_argument("id", nargs="+", help="names of the keys")
parser.add_argument("--freq", type=float, default=38.0, help="carrier kHz")
parser.add_argument("--gap", type=int, default=100, help="ms between sent codes")
parser.add_argument("--glitch", type=int, default=100, help="glitch filter us")
parser.add_argument("--post", type=int, default=15, help="ms of silence ending a code")
parser.add_argument("--pre", type=int, default=200, help="ms of silence before a code")
parser.add_argument("--short", type=int, default=10, help="fewest pulses in a code")
parser.add_argument("--tolerance", type=int, default=15, help="percent")
parser.add_argument("-v", "--verbose", action="store_true")
parser.add_argument("--no-confirm", action="store_true", help="record each key once")
args = parser.parse_args()

GPIO = args.gpio
LOW_TOL = (100 - args.tolerance) / 100.0
HIGH_TOL = (100 + args.tolerance) / 100.0

pi = pigpio.pi()
if not pi.connected:
    exit(1)

state = {"last": 0, "in_code": False, "code": [], "wanted": False}


def similar(a, b):
    return b * LOW_TOL < a < b * HIGH_TOL


def average_alike(code):
    """Give marks (even places) and spaces (odd) that are alike their mean."""
    for parity in (0, 1):
        done = set()
        for i in range(parity, len(code), 2):
            if i in done:
                continue
            group = [j for j in range(i, len(code), 2)
                     if j not in done and similar(code[j], code[i])]
            mean = int(round(sum(code[j] for j in group) / float(len(group))))
            for j in group:
                code[j] = mean
                done.add(j)
    return code


def code_over():
    if len(state["code"]) > args.short:
        state["wanted"] = False
    else:
        state["code"] = []
        print("Short code, probably a repeat, try again")


def edge(gpio, level, tick):
    if level == pigpio.TIMEOUT:
        pi.set_watchdog(GPIO, 0)
        if state["in_code"]:
            state["in_code"] = False
            code_over()
        return
    length = pigpio.tickDiff(state["last"], tick)
    state["last"] = tick
    if not state["wanted"]:
        return
    if not state["in_code"]:
        if length > args.pre * 1000:
            state["in_code"] = True
            pi.set_watchdog(GPIO, args.post)
    elif length > args.post * 1000:
        state["in_code"] = False
        pi.set_watchdog(GPIO, 0)
        code_over()
    else:
        state["code"].append(length)


def take_code():
    state["code"] = []
    state["wanted"] = True
    while state["wanted"]:
        time.sleep(0.1)
    return average_alike(state["code"][:])


def carrier(gpio, khz, micros):
    """Pulses of ``micros`` µs of square wave at ``khz`` kHz on ``gpio``."""
    period = 1000.0 / khz
    pulses, sofar = [], 0
    for n in range(int(round(micros / period))):
        on = int(round(period / 2.0))
        off = int(round((n + 1) * period)) - sofar - on
        sofar += on + off
        pulses.append(pigpio.pulse(1 << gpio, 0, on))
        pulses.append(pigpio.pulse(0, 1 << gpio, off))
    return pulses


if args.record:
    try:
        with open(args.file) as f:
            records = json.load(f)
    except (OSError, ValueError):
        records = {}
    pi.set_mode(GPIO, pigpio.INPUT)
    pi.set_glitch_filter(GPIO, args.glitch)
    cb = pi.callback(GPIO, pigpio.EITHER_EDGE, edge)
    print("Recording")
    for key in args.id:
        print("Press key for '{}'".format(key))
        first = take_code()
        print("Okay")
        time.sleep(0.5)  # the key is let go before the next press is asked for
        if args.no_confirm:
            records[key] = first
            continue
        print("Press key for '{}' to confirm".format(key))
        second = take_code()
        if len(first) == len(second) and all(similar(a, b) for a, b in zip(first, second)):
            records[key] = [int(round((a + b) / 2.0)) for a, b in zip(first, second)]
            print("Okay")
        else:
            print("No match, giving up on key '{}'".format(key))
    cb.cancel()
    pi.set_glitch_filter(GPIO, 0)
    pi.set_watchdog(GPIO, 0)
    with open(args.file, "w") as f:
        f.write(json.dumps(records, sort_keys=True).replace("],", "],\n") + "\n")
    if args.verbose:
        print(records)
else:
    try:
        with open(args.file) as f:
            records = json.load(f)
    except (OSError, ValueError):
        print("Can't open: {}".format(args.file))
        exit(1)
    pi.set_mode(GPIO, pigpio.OUTPUT)
    pi.wave_add_new()
    next_send = time.time()
    for key in args.id:
        if key not in records:
            print("Id {} not found".format(key))
            continue
        waves = {}
        chain = []
        for i, length in enumerate(records[key]):
            kind = (i & 1, length)
            if kind not in waves:
                if i & 1:
                    pi.wave_add_generic([pigpio.pulse(0, 0, length)])
                else:
                    pi.wave_add_generic(carrier(GPIO, args.freq, length))
                waves[kind] = pi.wave_create()
            chain.append(waves[kind])
        delay = next_send - time.time()
        if delay > 0:
            time.sleep(delay)
        pi.wave_chain(chain)
        while pi.wave_tx_busy():
            time.sleep(0.002)
        print("key " + key)
        next_send = time.time() + args.gap / 1000.0
        for wid in waves.values():
            pi.wave_delete(wid)

pi.stop()

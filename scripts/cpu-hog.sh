#!/usr/bin/env bash
# A stand-in for a noisy shared CI runner: busy-loops on every core for a random 1–4 s, then
# idles for a random 1–4 s, and so on, starting in a random state; it ends by itself after
# SECONDS_MAX seconds (default 600). Used by the validation scripts' noisy mode.
#
# usage: scripts/cpu-hog.sh [SECONDS_MAX] [SEED]
set -euo pipefail
exec python3 - "${1:-600}" "${2:-$RANDOM}" <<'PY'
import multiprocessing as mp, os, random, sys, time
def spin(until):
    while time.time() < until:
        pass
end = time.time() + float(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
on = rng.random() < 0.5
while time.time() < end:
    d = min(rng.uniform(1.0, 4.0), max(0.0, end - time.time()))
    if on:
        until = time.time() + d
        ps = [mp.Process(target=spin, args=(until,)) for _ in range(os.cpu_count() or 2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
    else:
        time.sleep(d)
    on = not on
PY

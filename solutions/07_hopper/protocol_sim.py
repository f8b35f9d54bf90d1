#!/usr/bin/env python3
"""Stage 07's barrier protocol, simulated: random interleavings of the producer, the consumer warpgroups and
the copy engine, checked for hangs and for reads of the wrong tile.

The kernel (solutions/07_hopper/kernel.cu) is a pipeline of mbarriers; a mistake in it is a hang or a
silent race on the GPU. This file mirrors its control flow step by step (the names follow the kernel:
produce, consume, keys_of, keep, released, hand_back, send_partial, merge_partials) and runs every block
of many problems under random schedules:

  - mbarriers count arrivals and transaction bytes per phase; waits name the phase by its parity;
  - TMA copies land in any order, some time after they are issued;
  - a consumer warpgroup is one actor whose four warps arrive together (each warp follows the same
    steps and waits for kv_full of a lap before it arrives for that lap, so no warp can run a lap ahead);
  - named barriers: consumer c > 0 arrives after writing its partial, consumer 0 waits for it.

It checks that every schedule finishes (no hang), that a consumer reads a stage only while it holds the
tile it expects (landed, and not refilled before its last read), that no arrival is counted towards a
later phase, and that every key tile of a band is handed back by every consumer once.

    python3 solutions/07_hopper/protocol_sim.py            # the default sweep (a minute or so)
    python3 solutions/07_hopper/protocol_sim.py --quick    # fewer schedules
    python3 solutions/07_hopper/protocol_sim.py --quick --self-test   # and check that planted faults are caught
"""
import argparse
import itertools
import random
import sys

TILE = 64


class Hang(Exception):
    pass


class Mbarrier:
    def __init__(self, name, count):
        self.name, self.count = name, count
        self.phase = 0  # phases completed so far; the current phase has parity phase & 1
        self.arrived = 0
        self.tx = 0

    def completed(self, parity):
        # wait(parity) returns once the phase of that parity has completed: the current phase has the other
        # parity. A fresh barrier (phase 0 current) answers wait(1) at once.
        return (self.phase & 1) != parity

    def arrive(self, n=1, expect_tx=0, lap=None, who=""):
        if lap is not None and lap != self.phase:
            raise AssertionError(f"{who}: arrival on {self.name} for lap {lap} while its phase {self.phase} is open")
        self.arrived += n
        self.tx += expect_tx
        if self.arrived > self.count:
            raise AssertionError(f"{who}: {self.arrived} arrivals on {self.name}, which expects {self.count}")
        self._maybe_complete()

    def complete_tx(self, nbytes):
        self.tx -= nbytes
        if self.tx < 0:
            raise AssertionError(f"{self.name}: more bytes landed than announced")
        self._maybe_complete()

    def _maybe_complete(self):
        if self.arrived == self.count and self.tx == 0:
            self.phase += 1
            self.arrived = 0


class Window:
    """TileMask for the sliding window (the causal one has right = 0), tiles of 64 x 64."""

    def __init__(self, n, left, right):
        self.n, self.left, self.right = n, left, right
        self.num_query_tiles = -(-n // TILE)
        self.num_key_tiles = self.num_query_tiles

    def key_tile_of(self, x):
        return min(max(x // TILE, 0), self.num_key_tiles - 1)

    def first_key_tile(self, m):
        return self.key_tile_of(m * TILE - self.left)

    def last_key_tile(self, m):
        i1 = min(self.n, m * TILE + TILE) - 1
        return self.key_tile_of(i1 + self.right)


# Faults that --self-test plants, one at a time: each must be caught (a hang or a failed check).
FAULTS = {
    "merge_before_release": "a shared tile is merged before its consumers hand back the rest of the band",
    "keep_with_wide_window": "long bands even when the ring cannot hold all but one of a query tile's key tiles",
    "release_unlanded": "Step 3 hands back a key tile without waiting for it to land",
    "hand_back_before_pv": "a key tile is handed back before the P V that reads its V has finished",
    "q_release_before_last_s": "Q is handed back before the last S = Q K^T has read it",
    "q_release_before_copy": "at D = 128, Q is handed back before the consumer has copied it into registers",
    "wrong_parity": "the producer waits on kv_empty for the lap's own parity",
}


def run_length(window, bh, sms, stages, consumers, faults=()):
    tiles = window.num_query_tiles
    window_tiles = (TILE - 1 + window.right) // TILE + (window.left + TILE - 1) // TILE + 1
    total = tiles * bh
    run = min(tiles, -(-total // sms))
    if "keep_with_wide_window" in faults:
        return run
    return min(run, consumers) if window_tiles > stages + 1 else run


class Block:
    """One block: the producer, C consumers, the copy engine, all as generators that yield 'wait' predicates."""

    def __init__(self, window, first_tile, run, stages, q_stages, consumers, split, tile_bytes, rng, faults=(),
                 q_in_registers=False):
        self.w, self.rng, self.faults = window, rng, faults
        self.q_in_registers = q_in_registers  # D = 128: Q copied into registers, its buffer handed back at once
        self.S, self.QS, self.C = stages, q_stages, consumers
        self.first_tile = first_tile
        self.end_tile = min(first_tile + run, window.num_query_tiles)
        self.first_key = window.first_key_tile(first_tile)
        self.last_key = window.last_key_tile(self.end_tile - 1)
        self.shared = split and self.end_tile - self.first_tile == 1
        self.tile_bytes = tile_bytes
        self.kv_full = [Mbarrier(f"kv_full[{s}]", 1) for s in range(stages)]
        self.kv_empty = [Mbarrier(f"kv_empty[{s}]", 4 * consumers) for s in range(stages)]
        self.q_full = [[Mbarrier(f"q_full[{c}][{b}]", 1) for b in range(q_stages)] for c in range(consumers)]
        self.q_empty = [[Mbarrier(f"q_empty[{c}][{b}]", 4) for b in range(q_stages)] for c in range(consumers)]
        self.stage_tile = [None] * stages  # the key tile a stage's contents are (after its copies landed)
        self.stage_readers = [set() for _ in range(stages)]  # consumers reading a stage right now (tile)
        self.q_tile = [[None] * q_stages for _ in range(consumers)]
        self.q_readers = [[set() for _ in range(q_stages)] for _ in range(consumers)]
        self.in_flight = []  # TMA copies: (barrier, bytes, what to record when they land)
        self.handed_back = [[0] * consumers for _ in range(self.last_key + 1)]
        self.partial_ready = [False] * consumers
        self.done = [False] * consumers

    # -- the producer ----------------------------------------------------------------------------
    def load_query_tile(self, q):
        c = (q - self.first_tile) % self.C
        turn = (q - self.first_tile) // self.C
        buffer, lap = turn % self.QS, turn // self.QS
        yield lambda: self.q_empty[c][buffer].completed((lap & 1) ^ 1)
        if self.q_readers[c][buffer]:
            raise AssertionError(f"Q buffer [{c}][{buffer}] reloaded with tile {q} while consumers "
                                 f"{sorted(self.q_readers[c][buffer])} still read it")
        self.q_tile[c][buffer] = None
        self.q_full[c][buffer].arrive(expect_tx=self.tile_bytes, who="producer")
        self.in_flight.append((self.q_full[c][buffer], self.tile_bytes, ("q", c, buffer, q)))

    def produce(self):
        first_qs = self.C * self.QS
        for q in range(self.first_tile, min(self.end_tile, self.first_tile + first_qs)):
            yield from self.load_query_tile(q)
        next_key = self.first_key
        for q in range(self.first_tile, self.end_tile):
            if q >= self.first_tile + first_qs:
                yield from self.load_query_tile(q)
            last = self.w.last_key_tile(q)
            while next_key <= last:
                n = next_key - self.first_key
                stage, lap = n % self.S, n // self.S
                parity = lap & 1 if "wrong_parity" in self.faults else (lap & 1) ^ 1
                yield lambda: self.kv_empty[stage].completed(parity)
                if self.stage_readers[stage]:
                    raise AssertionError(f"stage {stage} refilled with key tile {next_key} while consumers "
                                         f"{sorted(self.stage_readers[stage])} still read it")
                self.kv_full[stage].arrive(expect_tx=2 * self.tile_bytes, who="producer")
                self.stage_tile[stage] = None  # being overwritten
                self.in_flight.append((self.kv_full[stage], 2 * self.tile_bytes, ("kv", stage, next_key)))
                next_key += 1

    # -- the copy engine ---------------------------------------------------------------------------
    def land_one(self):
        bar, nbytes, what = self.in_flight.pop(self.rng.randrange(len(self.in_flight)))
        if what[0] == "kv":
            self.stage_tile[what[1]] = what[2]
        else:
            self.q_tile[what[1]][what[2]] = what[3]
        bar.complete_tx(nbytes)

    # -- the consumers -----------------------------------------------------------------------------
    def keys_of(self, q, c):
        first, last = self.w.first_key_tile(q), self.w.last_key_tile(q)
        if not self.shared:
            return first, last
        run = -(-(last - first + 1) // self.C)
        return min(last + 1, first + c * run), min(last, first + (c + 1) * run - 1)

    def sends_partial(self, c):  # a consumer of a shared band with key tiles to merge (send_partial)
        first, last = self.keys_of(self.first_tile, c)
        return c > 0 and first <= last

    def hand_back_tile(self, c, k, who):
        n = k - self.first_key
        self.kv_empty[n % self.S].arrive(4, lap=n // self.S, who=who)
        self.handed_back[k][c] += 1

    def consume(self, c):
        who = f"consumer {c}"
        released = self.first_key
        q = self.first_tile + (0 if self.shared else c)
        turn = 0
        while q < self.end_tile:
            kf, kl = self.keys_of(q, c)
            keep = (self.w.first_key_tile(q + self.C) if not self.shared and q + self.C < self.end_tile
                    else self.last_key + 1)
            owner = 0 if self.shared else c
            buffer = 0 if self.shared else turn % self.QS
            lap = 0 if self.shared else turn // self.QS
            # Step 3
            while released < kf:
                n = released - self.first_key
                if "release_unlanded" not in self.faults:
                    yield lambda n=n: self.kv_full[n % self.S].completed((n // self.S) & 1)
                self.hand_back_tile(c, released, who)
                released += 1
            yield lambda: self.q_full[owner][buffer].completed(lap & 1)
            if self.q_tile[owner][buffer] != q:
                raise AssertionError(f"{who} reads Q buffer [{owner}][{buffer}] holding tile "
                                     f"{self.q_tile[owner][buffer]}, expected {q}")
            self.q_readers[owner][buffer].add(c)
            if self.q_in_registers:  # the tile's Q is read into registers now; the buffer goes back at once
                early = "q_release_before_copy" in self.faults
                if early and not self.shared:
                    self.q_empty[c][buffer].arrive(4, lap=lap, who=who)
                yield None  # load_a_fragments
                self.q_readers[owner][buffer].discard(c)
                if not early and not self.shared:
                    self.q_empty[c][buffer].arrive(4, lap=lap, who=who)

            def start_read(k):
                stage = (k - self.first_key) % self.S
                if self.stage_tile[stage] != k:
                    raise AssertionError(f"{who} reads stage {stage} for key tile {k}; it holds "
                                         f"{self.stage_tile[stage]}")
                self.stage_readers[stage].add((c, k))

            def end_read(k):
                self.stage_readers[(k - self.first_key) % self.S].discard((c, k))

            def wait_key(k):
                n = k - self.first_key
                return lambda: self.kv_full[n % self.S].completed((n // self.S) & 1)

            def after_last_scores(k):
                if k == kl and not self.shared and not self.q_in_registers:
                    self.q_empty[c][buffer].arrive(4, lap=lap, who=who)

            nonlocal_released = [released]

            def hand_back(k):  # Step 8 (the read of tile k has ended: its P V is done)
                if k < keep:
                    self.hand_back_tile(c, k, who)
                    nonlocal_released[0] = k + 1

            if kf <= kl:
                yield wait_key(kf)
                start_read(kf)
                yield None  # S = Q K^T of the first tile, then its softmax
                if kf == kl:
                    self.q_readers[owner][buffer].discard(c)
                after_last_scores(kf)
                for k in range(kf + 1, kl + 1):
                    yield wait_key(k)
                    start_read(k)
                    if "q_release_before_last_s" in self.faults:
                        after_last_scores(k)
                    yield None  # S of tile k and P V of tile k - 1 on the tensor cores
                    if k == kl:
                        self.q_readers[owner][buffer].discard(c)  # the last S has read Q
                    if "q_release_before_last_s" not in self.faults:
                        after_last_scores(k)
                    if "hand_back_before_pv" in self.faults:
                        hand_back(k - 1)
                    yield None  # the softmax of tile k (P V of k - 1 may still run: overlap)
                    end_read(k - 1)  # wgmma_wait_group<0>: P V of tile k - 1 has read V
                    if "hand_back_before_pv" not in self.faults:
                        hand_back(k - 1)
                yield None  # P V of the last tile
                end_read(kl)
                hand_back(kl)
            self.q_readers[owner][buffer].discard(c)
            released = nonlocal_released[0]
            if not self.shared:
                yield None  # store
            q += self.C
            turn += 1
        if self.shared and c == 0 and "merge_before_release" in self.faults:
            for other in filter(self.sends_partial, range(self.C)):
                yield lambda other=other: self.partial_ready[other]
        # Step 10
        while released <= self.last_key:
            n = released - self.first_key
            yield lambda n=n: self.kv_full[n % self.S].completed((n // self.S) & 1)
            self.hand_back_tile(c, released, who)
            released += 1
        if self.shared:  # a consumer with no key tiles sends nothing, and consumer 0 does not wait for it
            if self.sends_partial(c):
                self.partial_ready[c] = True  # send_partial: bar.arrive
            elif c == 0:
                for other in filter(self.sends_partial, range(self.C)):
                    yield lambda other=other: self.partial_ready[other]  # merge_partials: bar.sync
        self.done[c] = True

    # -- a random schedule ---------------------------------------------------------------------------
    def run(self, max_steps=10**6):
        actors = {"producer": self.produce()}
        for c in range(self.C):
            actors[f"consumer {c}"] = self.consume(c)
        waiting = {name: None for name in actors}
        for _ in range(max_steps):
            runnable = [name for name, cond in waiting.items() if cond is None or cond()]
            options = runnable + (["tma"] if self.in_flight else [])
            if not options:
                if not waiting:
                    break
                raise Hang("no progress: " + ", ".join(
                    f"{name} waits" for name in waiting) + f"; {len(self.in_flight)} copies in flight")
            pick = self.rng.choice(options)
            if pick == "tma":
                self.land_one()
                continue
            try:
                waiting[pick] = next(actors[pick])
            except StopIteration:
                del waiting[pick]
                del actors[pick]
        else:
            raise Hang("too many steps")
        if self.in_flight:
            raise AssertionError("copies still in flight at the end")
        for k in range(self.first_key, self.last_key + 1):
            if self.handed_back[k] != [1] * self.C:
                raise AssertionError(f"key tile {k} handed back {self.handed_back[k]} times by the consumers")
        if not all(self.done):
            raise AssertionError("a consumer did not finish")


def configurations(quick):
    sizes = [1, 63, 64, 65, 129, 257, 1013, 2048]
    windows = [0, 1, 63, 64, 127, 128, 129, 200, 250, 300, 5000]
    for d, consumers in [(64, 2), (128, 2), (64, 3), (64, 4)]:
        stages = {(64, 2): 10, (128, 2): 5, (64, 3): 8, (64, 4): 8}[(d, consumers)]
        q_stages = 2 if d == 64 and consumers < 4 else 1
        for n, w, causal, split, sms in itertools.product(sizes, windows, [False, True], [True, False], [132, 3]):
            if quick and (w not in (0, 128, 300, 5000) or sms == 3 and n < 1013):
                continue
            yield dict(d=d, consumers=consumers, stages=stages, q_stages=q_stages, n=n, left=w,
                       right=0 if causal else w, split=split, sms=sms)


def sweep(quick, schedules, seed, faults=()):
    """Every block of every configuration under `schedules` random schedules: (blocks run, first failure)."""
    rng = random.Random(seed)
    blocks = 0
    for cfg in configurations(quick):
        window = Window(cfg["n"], cfg["left"], cfg["right"])
        run = run_length(window, 4, cfg["sms"], cfg["stages"], cfg["consumers"], faults)  # B*H = 4
        for first_tile in range(0, window.num_query_tiles, run):
            for _ in range(schedules):
                block = Block(window, first_tile, run, cfg["stages"], cfg["q_stages"], cfg["consumers"],
                              cfg["split"], cfg["d"] * TILE * 2, random.Random(rng.random()), faults,
                              q_in_registers=cfg["d"] == 128)
                try:
                    block.run()
                except (Hang, AssertionError) as e:
                    return blocks, f"{cfg} run={run} band from tile {first_tile}: {e}"
                blocks += 1
    return blocks, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows and schedules")
    parser.add_argument("--schedules", type=int, default=None, help="random schedules per block")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--self-test", action="store_true", help="also plant each of FAULTS: each must be caught")
    args = parser.parse_args()
    schedules = args.schedules or (2 if args.quick else 4)
    blocks, failure = sweep(args.quick, schedules, args.seed)
    if failure:
        print(f"FAILED {failure}")
        return 1
    print(f"protocol_sim: {blocks} block schedules, no hang, no wrong tile, every key tile handed back once")
    if args.self_test:
        for fault, what in FAULTS.items():
            _, failure = sweep(True, schedules, args.seed, faults=(fault,))
            if failure is None:
                print(f"FAILED self-test: the planted fault '{fault}' ({what}) went unnoticed")
                return 1
            print(f"  planted '{fault}': caught: {failure[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

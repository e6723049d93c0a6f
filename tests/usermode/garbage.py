#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Throw garbage at a user-mode device's UDP port (tests/usermode/garbage.sh).

    garbage.py --to ADDR [--port 4791] --qpn N [--psn N] --seconds S --rate PPS --seed N

Three kinds of datagram, in turn, for S seconds at about PPS datagrams/s:
  random     0..1400 random bytes
  truncated  a well-formed RC SEND_ONLY to QP N (correct ICRC) cut short
             anywhere from 0 bytes to one byte less than whole
  bad-icrc   a whole, well-formed RC SEND_ONLY or RDMA WRITE_ONLY to QP N, with
             a PSN at or near --psn, whose ICRC is wrong
None may be accepted: the device must drop each one (and count it). Prints the
number sent of each kind. It stops early when the port closes (the run ended:
the kernel answers "port unreachable"), and exits 1 unless at least --min-each
datagrams of each kind went out while the device was there.
"""
import argparse
import ipaddress
import random
import socket
import struct
import sys
import time
import zlib

ROCE_PORT = 4791


def icrc(src, dst, sport, dport, roce_wo_icrc):
    """ICRC as the receiver computes it (IPv4 or IPv6 header rebuilt as sent)."""
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    udp_len = 8 + len(roce_wo_icrc) + 4
    if a.version == 4:
        # version/IHL, TOS masked, total length, id 0, DF, TTL masked, UDP, csum masked
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0xFF, 20 + udp_len, 0, 0x4000, 0xFF, 17,
                         0xFFFF, a.packed, b.packed)
    else:
        ip = struct.pack(">IHBB16s16s", 0x6FFFFFFF, udp_len, 17, 0xFF, a.packed, b.packed)
    udp = struct.pack(">HHHH", sport, dport, udp_len, 0xFFFF)
    bth = bytearray(roce_wo_icrc)
    bth[4] = 0xFF
    return zlib.crc32(b"\xff" * 8 + ip + udp + bytes(bth)) & 0xFFFFFFFF


def request(rng, qpn, psn, write):
    payload = rng.randbytes(rng.choice((0, 1, 8, 64, 256, 1024)))
    pad = (-len(payload)) % 4
    opcode = 0x0A if write else 0x04
    bth = struct.pack(">BBHII", opcode, 0x40 | (pad << 4), 0xFFFF, qpn & 0xFFFFFF,
                      (0x80 << 24) | (psn & 0xFFFFFF))
    hdrs = bth
    if write:
        hdrs += struct.pack(">QII", rng.getrandbits(64), rng.getrandbits(32), len(payload))
    return hdrs + payload + b"\0" * pad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True)
    ap.add_argument("--port", type=int, default=ROCE_PORT)
    ap.add_argument("--qpn", type=lambda x: int(x, 0), required=True)
    ap.add_argument("--psn", type=lambda x: int(x, 0), default=0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-each", type=int, default=100,
                    help="fail unless this many of each kind went out before the port closed")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    fam = socket.AF_INET6 if ipaddress.ip_address(a.to).version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((a.to, a.port))
    src, sport = s.getsockname()[:2]
    sent = {"random": 0, "truncated": 0, "bad-icrc": 0}
    errors = 0
    gone = False
    end = time.monotonic() + a.seconds
    gap = 1.0 / max(a.rate, 1)
    i = 0
    while time.monotonic() < end:
        kind = ("random", "truncated", "bad-icrc")[i % 3]
        psn = (a.psn + rng.randrange(-64, 1024)) % (1 << 24)
        if kind == "random":
            data = rng.randbytes(rng.randrange(0, 1401))
        else:
            body = request(rng, a.qpn, psn, write=rng.random() < 0.5)
            good = icrc(src, a.to, sport, a.port, body)
            if kind == "truncated":
                whole = body + struct.pack("<I", good)
                data = whole[:rng.randrange(0, len(whole))]
            else:
                bad = good ^ (1 << rng.randrange(32))
                data = body + struct.pack("<I", bad)
        try:
            s.send(data)
            sent[kind] += 1
        except ConnectionRefusedError:
            # ICMP port unreachable: nothing listens there any more, the run is over
            gone = True
            break
        except OSError:
            errors += 1        # a full buffer: not the device's fault
        i += 1
        time.sleep(gap)
    total = sum(sent.values())
    print(f"garbage: sent {total} datagrams to {a.to}:{a.port} QP {a.qpn:#x}: "
          + ", ".join(f"{k} {v}" for k, v in sent.items()) + f"; {errors} send errors"
          + ("; stopped: the port closed (the run ended)" if gone else ""))
    if min(sent.values()) < a.min_each:
        print(f"garbage: fewer than {a.min_each} datagrams of some kind reached the live device")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

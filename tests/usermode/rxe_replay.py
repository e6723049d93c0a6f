#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""tests/usermode/rxe_replay.py - Linux rdma_rxe's own packets, sent again.

  rxe_replay.py hold FILE
      Opens the first verbs device (run it under `softhca run`, which makes it a
      user-mode device) through libibverbs, creates nothing, and keeps it open
      until FILE exists; then closes it and exits 0.

  rxe_replay.py send PCAP --to ADDR [--port 4791]
      Sends every RoCEv2 datagram of PCAP (Ethernet, IPv4, UDP) addressed to
      ADDR, byte for byte as captured, from the address and UDP port it was
      captured from (that address must be local), to ADDR:4791. Then sends each
      of them again with one payload bit flipped. Prints
      "intact N flipped M". The ICRC of the captured packets covers their IPv4
      identification, which rdma_rxe numbers and a UDP receiver cannot see.
"""
import argparse
import ctypes
import os
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
ROCEV2_PORT = 4791


def read_pcap(path):
    """Yields (src, sport, dst, dport, udp_payload) for each IPv4/UDP frame."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, not Ethernet")
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        off = 12
        ethertype = struct.unpack(">H", frame[off:off + 2])[0]
        if ethertype == ETH_P_8021Q:
            off += 4
            ethertype = struct.unpack(">H", frame[off:off + 2])[0]
        off += 2
        if ethertype != ETH_P_IP or len(frame) < off + 28:
            continue
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != socket.IPPROTO_UDP:
            continue
        src = socket.inet_ntoa(frame[off + 12:off + 16])
        dst = socket.inet_ntoa(frame[off + 16:off + 20])
        udp = off + ihl
        sport, dport, ulen = struct.unpack(">HHH", frame[udp:udp + 6])
        yield src, sport, dst, dport, frame[udp + 8:udp + ulen]


def hold(path):
    lib = ctypes.CDLL("libibverbs.so.1")
    lib.ibv_get_device_list.restype = ctypes.POINTER(ctypes.c_void_p)
    lib.ibv_get_device_list.argtypes = [ctypes.POINTER(ctypes.c_int)]
    lib.ibv_open_device.restype = ctypes.c_void_p
    lib.ibv_open_device.argtypes = [ctypes.c_void_p]
    lib.ibv_close_device.argtypes = [ctypes.c_void_p]
    lib.ibv_free_device_list.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    n = ctypes.c_int(0)
    devs = lib.ibv_get_device_list(ctypes.byref(n))
    if not devs or n.value < 1:
        print("rxe_replay: no verbs device (run me under softhca run)", file=sys.stderr)
        return 2
    ctx = lib.ibv_open_device(devs[0])
    if not ctx:
        print("rxe_replay: cannot open the device", file=sys.stderr)
        return 2
    print("holding the device open", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    lib.ibv_close_device(ctx)
    lib.ibv_free_device_list(devs)
    return 0 if os.path.exists(path) else 1


def send(pcap, to, port):
    frames = [(s, sp, p) for s, sp, d, dp, p in read_pcap(pcap)
              if d == to and dp == ROCEV2_PORT]
    if not frames:
        print(f"rxe_replay: no RoCEv2 frame to {to} in {pcap}", file=sys.stderr)
        return 2
    socks = {}
    for src, sport, _ in frames:
        if (src, sport) not in socks:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, sport))
            socks[(src, sport)] = s
    for flip in (False, True):
        for src, sport, payload in frames:
            data = bytearray(payload)
            if flip:
                data[12] ^= 0x01          # the first byte after the BTH
            socks[(src, sport)].sendto(bytes(data), (to, port))
            time.sleep(0.001)             # a receive buffer never overflows
    for s in socks.values():
        s.close()
    print(f"intact {len(frames)} flipped {len(frames)}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    h.add_argument("file")
    s = sub.add_parser("send")
    s.add_argument("pcap")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, default=ROCEV2_PORT)
    a = ap.parse_args()
    if a.cmd == "hold":
        return hold(a.file)
    return send(a.pcap, a.to, a.port)


if __name__ == "__main__":
    sys.exit(main())

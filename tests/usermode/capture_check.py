#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Check a pcap written by `softhca run --pcap` (tests/usermode/capture.sh).

    capture_check.py --pcap FILE --local IP --peer IP [--pmtu N]
                     [--expect DIR:FAMILY:MESSAGES:PACKETS]... [--no-requests DIR]
                     [--no-naks] [--peer-pcap FILE [--lossless]]

What is checked, every packet:
  * Ethernet / IPv4 or IPv6 / UDP to port 4791, captured whole, between the two
    given addresses only;
  * its ICRC, recomputed here (IBA annex A17: CRC-32 over the packet with the
    variant IP/UDP/BTH fields masked), matches the packet's;
  * tshark decodes it as InfiniBand (frame.protocols has udp:infiniband), with
    the same opcode, QPN and PSN as this script reads, and nothing in the file
    is malformed or an expert error.
Per stream of requests (direction, destination QP):
  * PSNs: every new PSN is the previous highest + 1 (a READ request advances
    by its response packets); a PSN seen again is a retransmission, counted;
  * opcodes follow FIRST MIDDLE* LAST | ONLY, one operation per message, and
    FIRST/MIDDLE packets carry exactly --pmtu bytes;
  * --expect out:send:50:1 (out = from --local, in = towards it) wants exactly
    that many messages of that operation (send, write, read, cmp_swap,
    fetch_add) with that many packets each, over the direction's streams.
ACKs: the highest PSN acknowledged on each stream is the last request PSN
(everything was acknowledged); --no-naks fails on any NAK.
--peer-pcap: the other side's capture of the same run: what one side sent is
what the other received, in order (--lossless), or at least a subsequence.
Exit 0 when every check passes; every failure is printed.
"""
import argparse
import ipaddress
import struct
import subprocess
import sys
import zlib

ROCE_PORT = 4791
PSN_MOD = 1 << 24

# opcode low 5 bits (RC/UC share them): (operation, position)
OPS = {
    0x00: ("send", "first"), 0x01: ("send", "middle"), 0x02: ("send", "last"),
    0x03: ("send", "last"), 0x04: ("send", "only"), 0x05: ("send", "only"),
    0x06: ("write", "first"), 0x07: ("write", "middle"), 0x08: ("write", "last"),
    0x09: ("write", "last"), 0x0A: ("write", "only"), 0x0B: ("write", "only"),
    0x0C: ("read", "only"),
    0x0D: ("read_resp", "first"), 0x0E: ("read_resp", "middle"),
    0x0F: ("read_resp", "last"), 0x10: ("read_resp", "only"),
    0x11: ("ack", "only"), 0x12: ("atomic_ack", "only"),
    0x13: ("cmp_swap", "only"), 0x14: ("fetch_add", "only"),
    0x16: ("send", "last"), 0x17: ("send", "only"),
}
NAMES = {
    0x00: "SEND_FIRST", 0x01: "SEND_MIDDLE", 0x02: "SEND_LAST", 0x03: "SEND_LAST_IMM",
    0x04: "SEND_ONLY", 0x05: "SEND_ONLY_IMM", 0x06: "WRITE_FIRST", 0x07: "WRITE_MIDDLE",
    0x08: "WRITE_LAST", 0x09: "WRITE_LAST_IMM", 0x0A: "WRITE_ONLY", 0x0B: "WRITE_ONLY_IMM",
    0x0C: "READ_REQUEST", 0x0D: "READ_RESP_FIRST", 0x0E: "READ_RESP_MIDDLE",
    0x0F: "READ_RESP_LAST", 0x10: "READ_RESP_ONLY", 0x11: "ACKNOWLEDGE",
    0x12: "ATOMIC_ACKNOWLEDGE", 0x13: "CMP_SWAP", 0x14: "FETCH_ADD",
    0x16: "SEND_LAST_INV", 0x17: "SEND_ONLY_INV",
}
RESPONSES = {"read_resp", "ack", "atomic_ack"}
HAS_AETH = {0x0D, 0x0F, 0x10, 0x11, 0x12}
HAS_RETH = {0x06, 0x0A, 0x0B, 0x0C}

failures = []


def fail(msg):
    failures.append(msg)
    print("  FAIL: " + msg)


def note(msg):
    print("  " + msg)


class Packet:
    pass


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        fail(f"{path}: {len(data)} bytes, not a pcap file")
        return None, []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        fail(f"{path}: bad pcap magic {magic:#x}")
        return None, []
    linktype = struct.unpack(end + "I", data[20:24])[0]
    recs, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            fail(f"{path}: record {len(recs) + 1} cut short by the end of the file")
            break
        recs.append((data[off:off + incl], orig))
        off += incl
    return linktype, recs


def icrc_of(ip_hdr, udp_hdr, bth_on, v6):
    """The ICRC of a packet: bth_on is BTH..payload (without the ICRC)."""
    ip = bytearray(ip_hdr)
    if v6:
        ip[0] |= 0x0F  # traffic class and flow label
        ip[1:4] = b"\xff\xff\xff"
        ip[7] = 0xFF   # hop limit
    else:
        ip[1] = 0xFF   # TOS
        ip[8] = 0xFF   # TTL
        ip[10:12] = b"\xff\xff"  # header checksum
    udp = bytearray(udp_hdr)
    udp[6:8] = b"\xff\xff"
    bth = bytearray(bth_on)
    bth[4] = 0xFF      # resv8a
    return zlib.crc32(b"\xff" * 8 + bytes(ip) + bytes(udp) + bytes(bth)) & 0xFFFFFFFF


def parse(n, raw, orig, local, peer):
    """One frame -> Packet, or None (with the failure recorded)."""
    where = f"frame {n}"
    if len(raw) != orig:
        fail(f"{where}: captured {len(raw)} of {orig} bytes (truncated capture)")
        return None
    if len(raw) < 14:
        fail(f"{where}: {len(raw)} bytes, shorter than Ethernet")
        return None
    ethertype = struct.unpack(">H", raw[12:14])[0]
    ip = raw[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 0xF) * 4
        total, proto = struct.unpack(">H", ip[2:4])[0], ip[9]
        src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
        v6 = False
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[0] >> 4 == 6:
        ihl = 40
        total, proto = 40 + struct.unpack(">H", ip[4:6])[0], ip[6]
        src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
        v6 = True
    else:
        fail(f"{where}: ethertype {ethertype:#06x} is not IPv4/IPv6")
        return None
    if total != len(ip):
        fail(f"{where}: IP length {total} but {len(ip)} bytes follow the Ethernet header")
        return None
    if proto != 17:
        fail(f"{where}: IP protocol {proto}, not UDP")
        return None
    udp = ip[ihl:ihl + 8]
    sport, dport, ulen = struct.unpack(">HHH", udp[:6])
    if dport != ROCE_PORT:
        fail(f"{where}: UDP destination port {dport}, not {ROCE_PORT}")
        return None
    if ulen != len(ip) - ihl:
        fail(f"{where}: UDP length {ulen}, {len(ip) - ihl} bytes present")
        return None
    if (src, dst) not in ((local, peer), (peer, local)):
        fail(f"{where}: {src} -> {dst} is not between {local} and {peer}")
        return None
    roce = ip[ihl + 8:]
    if len(roce) < 12 + 4:
        fail(f"{where}: {len(roce)} bytes of UDP payload: no room for BTH and ICRC")
        return None
    p = Packet()
    p.n = n
    p.out = src == local
    p.opcode = roce[0]
    p.padcnt = (roce[1] >> 4) & 3
    p.qpn = struct.unpack(">I", roce[4:8])[0] & 0xFFFFFF
    p.psn = struct.unpack(">I", roce[8:12])[0] & 0xFFFFFF
    want = icrc_of(ip[:ihl], udp, roce[:-4], v6)
    got = struct.unpack("<I", roce[-4:])[0]
    if want != got:
        fail(f"{where}: ICRC {got:#010x}, computed {want:#010x}")
    service = p.opcode >> 5
    low = p.opcode & 0x1F
    if service not in (0, 1, 3) or low not in OPS:
        fail(f"{where}: opcode {p.opcode:#04x} is not an RC, UC or UD opcode")
        return None
    p.service = {0: "RC", 1: "UC", 3: "UD"}[service]
    p.op, p.pos = OPS[low]
    if p.service == "UD":
        p.op, p.pos = "send", "only"
    p.name = p.service + " " + NAMES.get(low, hex(low))
    hdr = 12
    if p.service == "UD":
        hdr += 8                       # DETH
    p.dmalen = None
    if low in HAS_RETH and p.service != "UD":
        p.dmalen = struct.unpack(">I", roce[hdr + 12:hdr + 16])[0]
        hdr += 16
    p.syndrome = None
    if low in HAS_AETH and p.service == "RC":
        p.syndrome = roce[hdr]
        hdr += 4
    if low in (0x13, 0x14) and p.service == "RC":
        hdr += 28                      # AtomicETH
    if low in (0x03, 0x05, 0x09, 0x0B):
        hdr += 4                       # ImmDt
    if low in (0x16, 0x17):
        hdr += 4                       # IETH
    p.payload = len(roce) - 4 - hdr - p.padcnt
    if p.payload < 0:
        fail(f"{where}: headers of {p.name} longer than the packet")
        return None
    p.key = (p.out, p.opcode, p.qpn, p.psn, bytes(roce[:-4]))
    return p


def tshark_check(path, pkts):
    try:
        out = subprocess.run(
            ["tshark", "-r", path, "-T", "fields", "-E", "separator=|",
             "-e", "frame.number", "-e", "frame.protocols", "-e", "infiniband.bth.opcode",
             "-e", "infiniband.bth.destqp", "-e", "infiniband.bth.psn"],
            capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"tshark -r {path}: {e}")
        return
    if out.returncode != 0:
        fail(f"tshark -r {path} exited {out.returncode}: {out.stderr.strip()[-500:]}")
        return
    rows = [r.split("|") for r in out.stdout.splitlines() if r.strip()]
    if len(rows) != len(pkts):
        fail(f"tshark shows {len(rows)} frames, the file has {len(pkts)}")
    not_ib = [r[0] for r in rows if ":udp:infiniband" not in r[1]]
    if not_ib:
        fail(f"{len(not_ib)} frames tshark does not decode as InfiniBand over UDP "
             f"(first: frame {not_ib[0]}, protocols {rows[int(not_ib[0]) - 1][1]})")
    by_n = {p.n: p for p in pkts if p}
    mismatch = 0
    for r in rows:
        p = by_n.get(int(r[0]))
        if not p or not r[2]:
            continue
        if (int(r[2]), int(r[3], 0), int(r[4])) != (p.opcode, p.qpn, p.psn):
            mismatch += 1
            if mismatch <= 3:
                fail(f"frame {r[0]}: tshark reads opcode/QPN/PSN {r[2]}/{r[3]}/{r[4]}, "
                     f"this script {p.opcode}/{p.qpn:#x}/{p.psn}")
    for filt, what in (("_ws.malformed", "malformed"),
                       ('_ws.expert.severity == "Error"', "expert errors")):
        out = subprocess.run(["tshark", "-r", path, "-Y", filt], capture_output=True,
                             text=True, timeout=120)
        lines = [x for x in out.stdout.splitlines() if x.strip()]
        if out.returncode != 0 or lines:
            fail(f"tshark -Y '{filt}': {len(lines)} {what} frames, e.g. "
                 f"{lines[:3] if lines else out.stderr.strip()[-300:]}")
    note(f"tshark: {len(rows)} frames, all udp:infiniband, none malformed")


def psn_after(a, b):
    """True if PSN b is after a in 24-bit serial arithmetic."""
    return 0 < (b - a) % PSN_MOD < PSN_MOD // 2


def check_streams(pkts, pmtu, expects, no_requests, no_naks):
    requests, acks = {}, {}
    for p in pkts:
        if p.op in RESPONSES:
            acks.setdefault((p.out, p.qpn), []).append(p)
        else:
            requests.setdefault((p.out, p.qpn), []).append(p)
    messages = {}  # (dir, op) -> list of packet counts
    last_req = {}
    for (out, qpn), ps in sorted(requests.items()):
        d = "out" if out else "in"
        name = f"{d} requests to QP {qpn:#x}"
        top, nxt, retrans, cur = None, None, 0, None
        ops_seen = {}
        for p in ps:
            ops_seen[p.name] = ops_seen.get(p.name, 0) + 1
            if top is not None and not psn_after(top, p.psn) and p.service != "UD":
                retrans += 1
                continue
            if p.service != "UD" and nxt is not None and p.psn != nxt:
                fail(f"{name}: frame {p.n} {p.name} PSN {p.psn}, expected {nxt}")
            top = p.psn
            nxt = (p.psn + 1) % PSN_MOD
            if p.op == "read" and pmtu and p.dmalen is not None:
                nxt = (p.psn + max(1, -(-p.dmalen // pmtu))) % PSN_MOD
            # message grammar
            if p.pos in ("first", "only"):
                if cur is not None:
                    fail(f"{name}: frame {p.n} {p.name} starts a message inside a {cur[0]}")
                cur = [p.op, 0]
            elif cur is None or cur[0] != p.op:
                fail(f"{name}: frame {p.n} {p.name} outside a {p.op} message")
                cur = [p.op, 0]
            cur[1] += 1
            if pmtu and p.pos in ("first", "middle") and p.payload != pmtu:
                fail(f"{name}: frame {p.n} {p.name} carries {p.payload} bytes, path MTU {pmtu}")
            if pmtu and p.payload > pmtu:
                fail(f"{name}: frame {p.n} {p.name} carries {p.payload} bytes > path MTU {pmtu}")
            if p.pos in ("last", "only"):
                messages.setdefault((d, cur[0]), []).append(cur[1])
                cur = None
        if cur is not None:
            fail(f"{name}: capture ends inside a {cur[0]} message")
        # a READ's responses use up its PSNs: the last one owed an answer is nxt - 1
        last_req[(out, qpn)] = (nxt - 1) % PSN_MOD if nxt is not None else top
        first = ps[0].psn
        note(f"{name}: {len(ps)} packets, PSN {first}..{top}, {retrans} retransmitted; "
             + ", ".join(f"{k} x{v}" for k, v in sorted(ops_seen.items())))
    for d in no_requests:
        got = {k: v for k, v in messages.items() if k[0] == d}
        if got:
            fail(f"{d}: expected no requests, found {', '.join(f'{k[1]} x{len(v)}' for k, v in got.items())}")
    for spec in expects:
        d, op, count, per = spec
        got = messages.get((d, op), [])
        if len(got) != count:
            fail(f"{d}: {len(got)} {op} messages, expected {count}")
        bad = [c for c in got if c != per]
        if bad:
            fail(f"{d}: {len(bad)} {op} messages not of {per} packets (e.g. {bad[0]})")
        if len(got) == count and not bad:
            note(f"{d}: {count} {op} messages of {per} packets each, as expected")
    # the last request of each stream was acknowledged (RC only)
    for (out, qpn), top in last_req.items():
        reqs = requests[(out, qpn)]
        if reqs[0].service != "RC":
            continue
        # ACKs flow the other way, to the requester's QP; with one QP pair that
        # is the single ACK stream of the opposite direction
        back = [k for k in acks if k[0] != out]
        if len(back) != 1:
            note(f"{'out' if out else 'in'} QP {qpn:#x}: {len(back)} response streams back, "
                 "cannot pair them: acknowledgement not checked")
            continue
        resp = acks[back[0]]
        acked = [p.psn for p in resp if p.syndrome is None or p.syndrome >> 5 == 0]
        naks = [p for p in resp if p.syndrome is not None and p.syndrome >> 5 in (1, 3)]
        if naks:
            msg = (f"{len(naks)} NAKs to QP {back[0][1]:#x} (first: frame {naks[0].n}, "
                   f"syndrome {naks[0].syndrome:#04x})")
            if no_naks:
                fail(msg)
            else:
                note(msg)
        if not acked:
            fail(f"requests to QP {qpn:#x}: no acknowledgement came back")
            continue
        hi = acked[0]
        for a in acked[1:]:
            if psn_after(hi, a):
                hi = a
        if hi != top:
            fail(f"requests to QP {qpn:#x}: last request PSN {top}, highest acknowledged {hi}")
        else:
            note(f"requests to QP {qpn:#x}: acknowledged up to the last PSN {top}")


def compare_peer(pkts, peer_pkts, lossless):
    """Our sent packets = the peer's received ones (and vice versa)."""
    for d, mine, theirs in (("sent by this side", [p.key[1:] for p in pkts if p.out],
                             [p.key[1:] for p in peer_pkts if not p.out]),
                            ("received by this side", [p.key[1:] for p in pkts if not p.out],
                             [p.key[1:] for p in peer_pkts if p.out])):
        sender, receiver = (mine, theirs) if d.startswith("sent") else (theirs, mine)
        if lossless:
            if sender != receiver:
                i = next((k for k in range(min(len(sender), len(receiver)))
                          if sender[k] != receiver[k]), min(len(sender), len(receiver)))
                fail(f"packets {d}: the two captures differ ({len(sender)} sent, "
                     f"{len(receiver)} received, first difference at packet {i + 1})")
            else:
                note(f"packets {d}: {len(sender)}, identical in both captures")
        else:
            it = iter(sender)
            if not all(any(r == s for s in it) for r in receiver):
                fail(f"packets {d}: the receiver's capture has packets the sender never sent")
            else:
                note(f"packets {d}: {len(receiver)} received of {len(sender)} sent, all genuine")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--local", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--pmtu", type=int, default=0)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--no-requests", action="append", default=[], choices=["in", "out"])
    ap.add_argument("--no-naks", action="store_true")
    ap.add_argument("--peer-pcap")
    ap.add_argument("--lossless", action="store_true")
    a = ap.parse_args()
    local, peer = ipaddress.ip_address(a.local), ipaddress.ip_address(a.peer)
    expects = []
    for e in a.expect:
        d, op, count, per = e.split(":")
        expects.append((d, op, int(count), int(per)))

    print(f"{a.pcap}: local {local}, peer {peer}")
    linktype, recs = read_pcap(a.pcap)
    if linktype is not None and linktype != 1:
        fail(f"link type {linktype}, expected 1 (Ethernet)")
    if not recs:
        fail("no packets captured")
    pkts = [parse(i + 1, raw, orig, local, peer) for i, (raw, orig) in enumerate(recs)]
    bad = sum(1 for p in pkts if p is None)
    pkts = [p for p in pkts if p]
    note(f"{len(recs)} frames, {len(recs) - bad} parsed; ICRC checked on each")
    if recs:
        tshark_check(a.pcap, pkts)
        check_streams(pkts, a.pmtu, expects, a.no_requests, a.no_naks)
    if a.peer_pcap:
        _, precs = read_pcap(a.peer_pcap)
        ppkts = [parse(i + 1, raw, orig, peer, local) for i, (raw, orig) in enumerate(precs)]
        compare_peer(pkts, [p for p in ppkts if p], a.lossless)
    if failures:
        print(f"{a.pcap}: {len(failures)} failures")
        return 1
    print(f"{a.pcap}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

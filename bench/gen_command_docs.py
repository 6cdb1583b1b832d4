#!/usr/bin/env python3
"""Write src/cmd/docs/data.rs: Redis 7.0.15's COMMAND DOCS for every command the
node has, as a static tree the node's COMMAND DOCS writes back.

Needs a running redis-server 7.0.15 and a running cachectl node (for its
command list), e.g.:

    redis-server --port 6399 --save '' --daemonize yes
    cargo run --release -- node --port 7399 &
    python3 bench/gen_command_docs.py --redis-port 6399 --node-port 7399

The docs are fetched in RESP3, so maps, sets, simple strings and integers
keep their types. A container's `subcommands` field is left out of its
entry: each subcommand the node has is an entry of its own, right after
its container's, in the order this Redis listed them (Redis's order is
its dict's, which changes with every start), and the node writes the
field from those entries. Commands Redis does not have take their docs
from NODE_ONLY below.
"""

import argparse
import socket
import sys

# Redis 7.2's docs for the three 7.2 subcommands the node has (their first
# four fields), and the node's own commands.
NODE_ONLY = {
    "client|setinfo": (
        "Sets information specific to the client or connection.",
        "7.2.0",
        "connection",
        "O(1)",
    ),
    "client|no-touch": (
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "7.2.0",
        "connection",
        "O(1)",
    ),
    "cluster|myshardid": (
        "Returns the shard ID of a node.",
        "7.2.0",
        "cluster",
        "O(1)",
    ),
    "nodestat": (
        "cachectl: the load balancer's cheap load probe (clients, cores, uptime).",
        "0.1.0",
        "server",
        "O(1)",
    ),
    "metrics": (
        "cachectl: the node's counters as one JSON document.",
        "0.1.0",
        "server",
        "O(cores)",
    ),
}


class Resp:
    """A RESP3 connection that keeps reply types."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            return ("S", self.exact(int(rest)).decode())
        if kind == b"+":
            return ("P", rest.decode())
        if kind == b":":
            return ("I", int(rest))
        if kind == b"-":
            sys.exit("error: " + rest.decode())
        if kind == b"_":
            return ("N", None)
        n = int(rest)
        if kind == b"%":
            return ("M", [self.read() for _ in range(2 * n)])
        if kind in (b"*", b"~"):
            return ("A" if kind == b"*" else "T", [self.read() for _ in range(n)])
        sys.exit("unexpected reply type %r" % kind)


def rust(node):
    kind, v = node
    if kind in ("S", "P"):
        return '%s("%s")' % (kind, v.replace("\\", "\\\\").replace('"', '\\"'))
    if kind == "I":
        return "I(%d)" % v
    return "%s(&[%s])" % (kind, ", ".join(rust(x) for x in v))


def fields(doc):
    """A doc map's pairs, without `subcommands`; and the subcommand names."""
    kind, items = doc
    assert kind == "M"
    pairs = list(zip(items[0::2], items[1::2]))
    subs, kept = [], []
    for key, value in pairs:
        if key[1] == "subcommands":
            subs = [name for _, name in value[1][0::2]]
        else:
            kept += [key, value]
    return ("M", kept), subs


def minimal(name):
    """The four leading fields, for a command Redis 7.0.15 does not have."""
    values = NODE_ONLY[name]
    keys = ("summary", "since", "group", "complexity")
    return ("M", [("S", x) for pair in zip(keys, values) for x in pair])


def servers(doc, out):
    """Parse the ports and `--out` (default `out`); connect to redis-server
    7.0.15 and the node, both in RESP3 replies. Returns (opts, redis, node)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--node-port", type=int, required=True)
    ap.add_argument("--out", default=out)
    opts = ap.parse_args()
    redis, node = Resp(opts.redis_port), Resp(opts.node_port)
    hello = redis.call("HELLO", "3")[1]
    version = {hello[i][1]: hello[i + 1][1] for i in range(0, len(hello), 2)}["version"]
    if version != "7.0.15":
        sys.exit("redis-server is %s, not 7.0.15" % version)
    return opts, redis, node


def main():
    opts, redis, node = servers(__doc__, "src/cmd/docs/data.rs")
    names = [n[1] for n in node.call("COMMAND", "LIST")[1]]
    ours = set(names)
    entries = []
    for name in (n for n in names if "|" not in n):
        got = redis.call("COMMAND", "DOCS", name)[1]
        if not got:
            entries.append((name, minimal(name)))
            continue
        doc, subs = fields(got[1])
        entries.append((name, doc))
        # Subcommands the node has, in this Redis's order, then those only
        # the node has.
        mine = [s for s in subs if s in ours]
        mine += [s for s in names if s.startswith(name + "|") and s not in mine]
        for sub in mine:
            sub_got = redis.call("COMMAND", "DOCS", sub)[1]
            entries.append((sub, fields(sub_got[1])[0] if sub_got else minimal(sub)))
    with open(opts.out, "w") as f:
        f.write("//! COMMAND DOCS data: Redis 7.0.15's docs of every command the node has.\n")
        f.write("//!\n")
        f.write("//! GENERATED by bench/gen_command_docs.py from a running redis-server 7.0.15\n")
        f.write("//! and node; do not edit by hand, run the script again (see its header).\n")
        f.write("//! Each entry is one command's doc map without its `subcommands` field;\n")
        f.write("//! a container's subcommands follow it, in the order Redis listed them.\n\n")
        f.write("use super::Doc::{self, A, I, M, P, S, T};\n\n")
        f.write("/// `(full name, doc map)` per command, containers before their subcommands.\n")
        f.write("#[rustfmt::skip]\n")
        f.write("pub static DOCS: &[(&str, Doc)] = &[\n")
        for name, doc in entries:
            f.write('    ("%s", %s),\n' % (name, rust(doc)))
        f.write("];\n")
    print("wrote %d entries to %s" % (len(entries), opts.out))


if __name__ == "__main__":
    main()

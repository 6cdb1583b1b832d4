"""Drive a cachectl cluster with the current redis-py's RedisCluster and its
default settings, bootstrapped from HOST:PORT (a node or the LB in cluster
mode). Usage: redis_py_cluster.py HOST PORT SHARDS. Exits 0 after printing
"ok", or raises on the first reply that is not what Redis Cluster gives."""
import sys

import redis
from redis.cluster import RedisCluster

host, port, shards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rc = RedisCluster(host=host, port=port)
print("redis-py", redis.__version__, "RedisCluster with", len(rc.get_nodes()), "nodes")
assert len(rc.get_nodes()) == shards, rc.get_nodes()
assert rc.ping() is True
for i in range(300):
    assert rc.set(f"pyc:{i}", i) is True
for i in range(300):
    assert rc.get(f"pyc:{i}") == str(i).encode()
assert rc.get("pyc:missing") is None
# Hash tags keep keys in one slot: multi-key commands work across them.
assert rc.mset({"{user1}.name": "ann", "{user1}.age": "40"}) is True
assert rc.mget("{user1}.name", "{user1}.age") == [b"ann", b"40"]
# Keys of different slots: redis-py splits them by slot itself.
assert rc.mget_nonatomic("pyc:1", "pyc:2", "pyc:3") == [b"1", b"2", b"3"]
assert rc.delete("{user1}.name", "{user1}.age") == 2
assert rc.incr("pyc:counter") == 1
assert rc.expire("pyc:counter", 100) is True
assert 0 < rc.ttl("pyc:counter") <= 100
assert rc.keyslot("foo") == 12182
assert rc.cluster_keyslot("foo") == 12182
# A transaction on one slot, as redis-py sends it to that slot's node.
p = rc.pipeline()
for i in range(50):
    p.set(f"pyc:p{i}", i)
assert p.execute() == [True] * 50
# Commands without keys go to the nodes redis-py is told to use.
assert rc.ping(target_nodes=RedisCluster.ALL_NODES) is True
assert rc.dbsize(target_nodes=RedisCluster.ALL_NODES) > 0
print("ok")

"""Drive a server with the current redis-py and its default settings
(which speak RESP3 through HELLO 3). Usage: redis_py.py PORT. Exits 0 after
printing "ok", or raises on the first reply that is not what Redis gives."""
import sys

import redis

r = redis.Redis(port=int(sys.argv[1]))
conn = r.connection_pool.get_connection()
print("redis-py", redis.__version__, "protocol", conn.protocol)
r.connection_pool.release(conn)

assert r.ping() is True
assert r.set("py:a", "1") is True
assert r.get("py:a") == b"1"
assert r.get("py:missing") is None
assert r.set("py:a", "2", nx=True) is None
assert r.set("py:a", "3", xx=True, get=True) == b"1"
assert r.mset({"py:b": "x", "py:c": "y"}) is True
assert r.mget("py:a", "py:missing", "py:b", "py:c") == [b"3", None, b"x", b"y"]
assert r.incr("py:n") == 1
assert r.incrby("py:n", 41) == 42
assert r.expire("py:n", 100) is True
assert 0 < r.ttl("py:n") <= 100
assert r.persist("py:n") is True
assert r.ttl("py:n") == -1
assert r.exists("py:a", "py:b", "py:missing") == 2
assert r.delete("py:a", "py:b", "py:c", "py:n") == 4
assert r.dbsize() == 0
assert r.echo("hi") == b"hi"
assert r.client_setname("py-test") is True
assert r.client_getname() == "py-test"
assert isinstance(r.client_id(), int)
assert r.config_get("appendonly") == {"appendonly": "no"}
assert "redis_version" in r.info("server")
try:
    r.execute_command("NOSUCHCOMMAND")
    raise AssertionError("an unknown command must fail")
except redis.ResponseError as e:
    assert str(e).startswith("unknown command 'NOSUCHCOMMAND'"), e
# A non-transactional pipeline: many commands in one write.
p = r.pipeline(transaction=False)
for i in range(100):
    p.set(f"py:p{i}", i)
for i in range(100):
    p.get(f"py:p{i}")
out = p.execute()
assert out[:100] == [True] * 100 and out[100:] == [str(i).encode() for i in range(100)]
# A transaction, as redis-py sends it: MULTI … EXEC in one write.
t = r.pipeline(transaction=True)
t.set("py:t1", "a").incr("py:t2").mget("py:t1", "py:t2").delete("py:t1")
assert t.execute() == [True, 1, [b"a", b"1"], 1]
# Django's cache.set_many: MULTI; MSET; EXPIRE…; EXEC.
t = r.pipeline(transaction=True)
t.mset({"py:d1": "1", "py:d2": "2"}).expire("py:d1", 300).expire("py:d2", 300)
assert t.execute() == [True, True, True]
assert 0 < r.ttl("py:d2") <= 300
# Optimistic locking as redis-py does it: WATCH, read, MULTI, write, EXEC.
def bump(pipe):
    v = int(pipe.get("py:w") or 0)
    pipe.multi()
    pipe.set("py:w", v + 1)
assert r.transaction(bump, "py:w") == [True]
assert r.transaction(bump, "py:w") == [True]
assert r.get("py:w") == b"2"
# String and keyspace commands apps reach for first.
assert r.setex("py:e", 100, "v") is True
assert r.setnx("py:e", "w") is False
assert r.append("py:e", "w") == 2
assert r.strlen("py:e") == 2
assert r.getrange("py:e", 0, 0) == b"v"
assert r.incrbyfloat("py:f", 10.5) == 10.5
assert r.incrbyfloat("py:f", 0.1) == 10.6
assert r.type("py:e") == b"string"
assert r.rename("py:e", "py:e2") is True
assert r.getdel("py:e2") == b"vw"
assert r.unlink("py:f") == 1
assert isinstance(r.time()[0], int)
# Pub/sub: a subscriber on its own connection gets what PUBLISH sends.
ps = r.pubsub()
ps.subscribe("py:chan")
assert ps.get_message(timeout=5)["type"] == "subscribe"
assert r.publish("py:chan", "hello") == 1
msg = ps.get_message(timeout=5)
assert msg["type"] == "message" and msg["data"] == b"hello", msg
# redis-py's default pipeline is a transaction: write, then tell.
t = r.pipeline()
t.set("py:state", "ready").publish("py:chan", "state changed")
assert t.execute() == [True, 1]
msg = ps.get_message(timeout=5)
assert msg["type"] == "message" and msg["data"] == b"state changed", msg
assert r.get("py:state") == b"ready"
ps.close()
print("ok")

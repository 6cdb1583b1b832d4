// Drive a server with the current node-redis and its default settings.
// Usage: node node_redis.cjs PORT (with NODE_PATH naming node_modules).
// Exits 0 after printing "ok", or 1 on the first reply Redis would not give.
const assert = require('node:assert/strict');
const { createClient } = require('redis');

(async () => {
  const c = createClient({ url: `redis://127.0.0.1:${process.argv[2]}` });
  c.on('error', (e) => { console.error('client error:', e); process.exit(1); });
  await c.connect();
  console.log('node-redis', require('redis/package.json').version);
  assert.equal(await c.ping(), 'PONG');
  assert.equal(await c.set('js:a', '1'), 'OK');
  assert.equal(await c.get('js:a'), '1');
  assert.equal(await c.get('js:missing'), null);
  assert.equal(await c.set('js:a', '2', { NX: true }), null);
  assert.deepEqual(await c.mGet(['js:a', 'js:missing']), ['1', null]);
  assert.equal(await c.mSet({ 'js:b': 'x', 'js:c': 'y' }), 'OK');
  assert.equal(await c.incrBy('js:n', 42), 42);
  assert.equal(await c.expire('js:n', 100), 1);
  const ttl = await c.ttl('js:n');
  assert.ok(ttl > 0 && ttl <= 100, `ttl ${ttl}`);
  assert.equal(await c.exists(['js:a', 'js:b', 'js:missing']), 2);
  assert.equal(await c.del(['js:a', 'js:b', 'js:c', 'js:n']), 4);
  assert.equal(await c.dbSize(), 0);
  assert.equal(await c.echo('hi'), 'hi');
  assert.match(await c.info('server'), /redis_version:/);
  await assert.rejects(c.sendCommand(['NOSUCHCOMMAND']), /unknown command/);
  // Many commands in flight at once on one connection (auto-pipelining).
  const sets = [];
  for (let i = 0; i < 100; i++) sets.push(c.set(`js:p${i}`, String(i)));
  assert.ok((await Promise.all(sets)).every((r) => r === 'OK'));
  const gets = [];
  for (let i = 0; i < 100; i++) gets.push(c.get(`js:p${i}`));
  assert.deepEqual(await Promise.all(gets), [...Array(100).keys()].map(String));
  // A transaction: MULTI … EXEC.
  const tx = await c.multi().set('js:t1', 'a').incr('js:t2').mGet(['js:t1', 'js:t2']).del('js:t1').exec();
  assert.deepEqual(tx, ['OK', 1, ['a', '1'], 1]);
  // Pub/sub: a subscriber (its own connection, as node-redis requires).
  const sub = c.duplicate();
  sub.on('error', (e) => { console.error('subscriber error:', e); process.exit(1); });
  await sub.connect();
  const got = new Promise((resolve) => sub.subscribe('js:chan', (m) => resolve(m)));
  await new Promise((r) => setTimeout(r, 50));
  let receivers = 0;
  for (let i = 0; i < 100 && receivers === 0; i++) {
    receivers = await c.publish('js:chan', 'hello');
    if (receivers === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(receivers, 1);
  assert.equal(await got, 'hello');
  await sub.quit();
  assert.equal(await c.getDel('js:t2'), '1');
  assert.equal(await c.incrByFloat('js:f', 10.5), '10.5');
  await c.quit();
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });

#!/usr/bin/env bash
# Install the real client libraries the client tests drive (tests/clients.rs)
# into target/clients: the latest redis-py in a virtualenv, and node-redis
# from npm. Both with default settings, as a new user would get them.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=target/clients
mkdir -p "$dest"
if [ ! -x "$dest/venv/bin/python" ]; then
  python3 -m venv "$dest/venv"
fi
"$dest/venv/bin/pip" install --quiet --upgrade redis
mkdir -p "$dest/node"
if [ ! -f "$dest/node/package.json" ]; then
  (cd "$dest/node" && npm init -y >/dev/null)
fi
(cd "$dest/node" && npm install --silent --no-audit --no-fund redis@latest >/dev/null)
echo "redis-py $("$dest/venv/bin/python" -c 'import redis; print(redis.__version__)'), node-redis $(cd "$dest/node" && node -p 'require("redis/package.json").version')"

"""sioadapter's benchmark suite: ``python -m benchmarks [--quick] [--out docs/benchmarks.md]``.

One command runs every scenario for sioadapter and its baselines (python-socketio's
AsyncRedisManager, raw redis-py pub/sub, Node's @socket.io/redis-adapter) in the same run, on a
private local redis-server, one OS process per node, and writes ``docs/benchmarks.md`` with
``docs/benchmarks.png``.

Modules: :mod:`.scenarios` (what each scenario starts and keeps), :mod:`.node_python` and
``node_js.js`` (one Socket.IO node process), :mod:`.raw_redis` (raw pub/sub processes),
:mod:`.redis_server` (the private Redis), :mod:`.procs` (child processes), :mod:`.report` and
:mod:`.chart` (the results file and its PNG), :mod:`.stats` (percentiles).
"""

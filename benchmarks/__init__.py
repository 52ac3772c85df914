"""sioadapter's benchmark suite: ``python -m benchmarks [--quick] [--out docs/benchmarks.md]``.

One command runs every scenario for sioadapter and its baselines (python-socketio's
AsyncRedisManager, raw redis-py pub/sub, Node's @socket.io/redis-adapter) in the same run, on a
private local redis-server, one OS process per node, and writes ``docs/benchmarks.md`` with
``docs/benchmarks.png``. The backend family (``--only backends``) runs the throughput scenario
over every backend (Redis, NATS, PostgreSQL, RabbitMQ) against that broker's own raw client.

Modules: :mod:`.scenarios` (what each scenario starts and keeps), :mod:`.node_python` and
``node_js.js`` (one Socket.IO node process), :mod:`.raw_redis` (raw pub/sub processes),
:mod:`.redis_server` (the private Redis), :mod:`.procs` (child processes), :mod:`.report` and
:mod:`.chart` (the results file and its PNG), :mod:`.stats` (percentiles);
:mod:`.backend_suite`, :mod:`.backend_report` and :mod:`.brokers` (the backend family, its
page sections, where each broker is), :mod:`.raw_common`, :mod:`.raw_nats`,
:mod:`.raw_postgres` and :mod:`.raw_amqp` (the other brokers' raw clients).
"""

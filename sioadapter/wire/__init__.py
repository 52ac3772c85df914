"""Wire protocol families: cluster messages to (channel, bytes) and back.

A manager's ``protocol=`` names the family: ``"classic"``
(`sioadapter.wire.classic.ClassicFamily`, Node's ``@socket.io/redis-adapter`` classic protocol,
the default on Redis) or ``"cluster"`` (`sioadapter.wire.cluster.ClusterFamily`, socket.io-adapter's
ClusterAdapter protocol, used on sharded Redis and on backends without patterns) or
``"postgres"`` (`sioadapter.wire.postgres.PostgresFamily`, ``@socket.io/postgres-adapter``'s
dialect of it, which the PostgreSQL backend dictates). The codecs
(`sioadapter.wire.notepack`) and message signing (`sioadapter.wire.signing`) sit beside them.
"""

__all__: list[str] = []

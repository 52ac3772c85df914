"""The asyncio runtime under the managers (private).

The sans-IO core (:mod:`sioadapter.core`) decides; these modules carry its decisions out on an
event loop: the bus (publishing and receiving through a backend), the request waits, the local
side (python-socketio's server and room table), and the effect runner, the one place that turns
the core's effects into I/O and hook calls.
"""

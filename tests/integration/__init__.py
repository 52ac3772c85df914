"""Integration tests: real servers and real clients on loopback ports."""

"""Test cases every mixed cluster runs, whatever carries it (PostgreSQL, Redis streams).

Each family's test modules import them by name; pytest collects them there, with that
directory's ``mixed`` fixture (its topology). What differs between families (payload sizes,
the wire itself) stays in the family's own modules.
"""

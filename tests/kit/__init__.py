"""The backend contract kit (sioadapter.testing.contract), run over the built-in backends."""

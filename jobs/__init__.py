"""Thin job entry points: one module per pipeline, each with ``main(argv) -> int``."""

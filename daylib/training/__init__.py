"""The machinery behind :mod:`daylib.train` (import from there): history, data, features, runs, phases."""

"""The figures of ``./scripts/bench``, each measured against a reference in the same run."""

"""The figures of ``./scripts/bench``: each one ours against a reference measured in the same run."""

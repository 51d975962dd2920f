"""Registering the host with browsers: ``flattr-host install | uninstall | doctor``.

Each module has one job (browsers' locations, manifests, the launcher, the receipt, the registry,
doctor, self-healing). The ones self-healing uses (``platform``, ``registry``, ``manifest``,
``launcher``, ``receipt``, ``fsutil``) are stdlib only: they run before ``hello`` is answered.
"""

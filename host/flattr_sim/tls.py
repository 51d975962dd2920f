"""A throwaway CA and a leaf for flattr.com / api.flattr.com (trustme, imported only for --tls)."""

from __future__ import annotations

import base64
import hashlib
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from .constants import CA_FILENAME, LEAF_FILENAME, TLS_NAMES

# For the very Python that runs the server (a pipx or venv install, or a checkout's .venv);
# reinstalling flattr-companion[sim] from PyPI would replace a checkout's editable install.
INSTALL_HINT = (
    f"run: {sys.executable} -m pip install trustme "
    "(in a source checkout, `source scripts/lib/bootstrap.sh` sets up .venv with it)"
)


class TLSUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class TLSMaterial:
    context: ssl.SSLContext
    ca_path: Path
    # base64 sha256 of the leaf's SubjectPublicKeyInfo: Chromium's
    # --ignore-certificate-errors-spki-list wants exactly this.
    spki_sha256: str


def make_tls(state_dir: Path, names: tuple[str, ...] = TLS_NAMES) -> TLSMaterial:
    try:
        import trustme
    except ImportError as exc:
        raise TLSUnavailable(f"--tls needs the 'trustme' package; {INSTALL_HINT}") from exc
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)

    state_dir.mkdir(parents=True, exist_ok=True)
    ca_path = state_dir / CA_FILENAME
    ca.cert_pem.write_to_path(str(ca_path))
    leaf_pem = leaf.cert_chain_pems[0].bytes()
    (state_dir / LEAF_FILENAME).write_bytes(leaf_pem)

    spki = (
        x509.load_pem_x509_certificate(leaf_pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    digest = base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
    return TLSMaterial(context, ca_path, digest)

"""Which names the browsers send where: flattr.com and friends to the local Flattr server (TLS),
content sites (and http://flattr.com) to the local content server (plain HTTP)."""

from __future__ import annotations

from dataclasses import dataclass

from . import sites

# Served by the local Flattr server over TLS on its one port (routed by path, not by name).
TLS_HOSTS = ("flattr.com", "api.flattr.com", sites.LOOKALIKE)
# Served by the content server over HTTP.
HTTP_HOSTS = (*sites.PUBLIC_HOSTS, *sites.PRIVATE_HOSTS)


@dataclass(frozen=True)
class Network:
    sim_port: int
    sites_port: int
    # base64 sha256 of the local Flattr server's leaf SPKI (Chromium's ignore list).
    spki: str

    def chromium_resolver_rules(self) -> str:
        # First match wins, and a "host:port" pattern is tried when the bare host does not match:
        # http://flattr.com (port 80) must reach the content server, https://flattr.com the sim.
        rules = [f"MAP flattr.com:80 127.0.0.1:{self.sites_port}"]
        rules += [f"MAP {host} 127.0.0.1:{self.sim_port}" for host in TLS_HOSTS]
        rules += [f"MAP {host} 127.0.0.1:{self.sites_port}" for host in HTTP_HOSTS]
        # Nothing else resolves: a test can never reach the internet by accident.
        rules += ["EXCLUDE localhost", "EXCLUDE 127.0.0.1", "MAP * ~NOTFOUND"]
        return ", ".join(rules)

    def firefox_prefs(self) -> dict[str, str]:
        return {
            "network.dns.localDomains": ",".join((*TLS_HOSTS, *HTTP_HOSTS)),
            # Every :443 connection goes to the sim, every :80 one to the content server.
            "network.socket.forcePort": f"443={self.sim_port};80={self.sites_port}",
        }

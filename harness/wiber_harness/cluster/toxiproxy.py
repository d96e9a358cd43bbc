"""A small typed client for the Toxiproxy HTTP API (v2.12.0).

Why not toxiproxy-python: its 0.1.1 release keeps the server address in
class-level globals (one server per process) and sends requests without
timeouts; a fault harness needs several clusters in one process and must
never hang on its own fault injector. The API is small, so this wraps it
directly with httpx and bounded timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from wiber_harness.errors import FaultError

TOXIC_TYPES = frozenset(
    {"latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"}
)


@dataclass(frozen=True)
class ProxyState:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[dict[str, Any], ...]


class ToxiproxyClient:
    """Create proxies, cut them (``enabled: false``), add and remove toxics."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise FaultError(
                f"Toxiproxy at {self.url} did not answer {method} {path} ({e}); "
                "is toxiproxy-server running?"
            ) from e
        if r.status_code >= 400:
            raise FaultError(f"Toxiproxy refused {method} {path}: {r.status_code} {r.text.strip()}")
        return r.json() if r.content else None

    def version(self) -> str:
        try:
            r = self._http.get("/version")
            return r.text.strip()
        except httpx.HTTPError as e:
            raise FaultError(f"Toxiproxy at {self.url} does not answer ({e})") from e

    def create(self, name: str, listen: str, upstream: str) -> ProxyState:
        self._call(
            "POST",
            "/proxies",
            json={"name": name, "listen": listen, "upstream": upstream, "enabled": True},
        )
        return self.get(name)

    def get(self, name: str) -> ProxyState:
        d = self._call("GET", f"/proxies/{name}")
        return ProxyState(
            d["name"], d["listen"], d["upstream"], bool(d["enabled"]), tuple(d.get("toxics") or ())
        )

    def proxies(self) -> dict[str, ProxyState]:
        d = self._call("GET", "/proxies")
        return {
            k: ProxyState(
                v["name"],
                v["listen"],
                v["upstream"],
                bool(v["enabled"]),
                tuple(v.get("toxics") or ()),
            )
            for k, v in d.items()
        }

    def set_enabled(self, name: str, enabled: bool) -> ProxyState:
        self._call("POST", f"/proxies/{name}", json={"enabled": enabled})
        st = self.get(name)
        if st.enabled != enabled:
            raise FaultError(
                f"Toxiproxy proxy {name}: asked enabled={enabled} but it reports {st.enabled}"
            )
        return st

    def add_toxic(
        self,
        proxy: str,
        name: str,
        type_: str,
        attributes: dict[str, Any],
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> dict[str, Any]:
        if type_ not in TOXIC_TYPES:
            raise FaultError(f"unknown toxic type {type_!r}; use one of {sorted(TOXIC_TYPES)}")
        return dict(
            self._call(
                "POST",
                f"/proxies/{proxy}/toxics",
                json={
                    "name": name,
                    "type": type_,
                    "stream": stream,
                    "toxicity": toxicity,
                    "attributes": attributes,
                },
            )
        )

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")


__all__ = ["TOXIC_TYPES", "ProxyState", "ToxiproxyClient"]

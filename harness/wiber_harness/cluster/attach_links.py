"""A Toxiproxy the user runs, seen through the harness's link names, touching only what it declared.

:class:`MappedToxiproxy` is a
:class:`~wiber_harness.cluster.toxiproxy.ToxiproxyClient` (so every fault
kind uses it unchanged) over another client of the user's Toxiproxy. It
promises:

* **names**: calls name the harness's links (``api-kafka-1``); each is sent
  to the proxy the target file maps it to (``kafka1_from_api``);
* **only declared proxies**: a call for a link the target does not list is a
  :class:`~wiber_harness.errors.FaultError`; ``create`` and ``reset`` (which
  would change proxies the harness does not own) are refused;
* **a record of what the harness did**: proxies it disabled and toxics it
  added, each dropped again when the harness undoes it, so
  :meth:`MappedToxiproxy.undo` heals exactly what the harness left behind
  and nothing else;
* :meth:`MappedToxiproxy.check_clean`: before a run every declared proxy
  exists, is enabled and carries no toxic (a run must start healed; the
  harness will not heal what it did not do).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from wiber_harness.cluster.toxiproxy import ProxyState, ToxiproxyClient
from wiber_harness.errors import ClusterError, FaultError


class MappedToxiproxy(ToxiproxyClient):
    """The user's Toxiproxy under the harness's link names (see the module docstring)."""

    def __init__(self, inner: ToxiproxyClient, links: Mapping[str, str]) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.links = dict(links)
        self.disabled: set[str] = set()
        self.toxics: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        super().close()
        self.inner.close()

    def version(self) -> str:
        return self.inner.version()

    def _proxy(self, link: str) -> str:
        try:
            return self.links[link]
        except KeyError:
            raise FaultError(
                f"link {link!r} is not listed under [toxiproxy.links] of the target file; "
                f"listed are {', '.join(self.links) or 'none'}"
            ) from None

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        parts = path.strip("/").split("/")
        if parts[0] != "proxies" or len(parts) < 2:
            raise FaultError(
                f"attach mode does not send {method} {path} to a Toxiproxy it does not own"
            )
        link = parts[1]
        parts[1] = self._proxy(link)
        out = self.inner._call(method, "/" + "/".join(parts), **kw)
        body = kw.get("json") or {}
        with self._lock:
            if len(parts) == 2 and method == "POST" and "enabled" in body:
                (self.disabled.discard if body["enabled"] else self.disabled.add)(link)
            elif parts[2:3] == ["toxics"] and method == "POST" and "name" in body:
                self.toxics.setdefault(link, set()).add(str(body["name"]))
            elif parts[2:3] == ["toxics"] and method == "DELETE" and len(parts) > 3:
                self.toxics.get(link, set()).discard(parts[3])
        return out

    def get(self, name: str) -> ProxyState:
        st = super().get(name)
        return ProxyState(name, st.listen, st.upstream, st.enabled, st.toxics)

    def proxies(self) -> dict[str, ProxyState]:
        return {link: self.get(link) for link in self.links}

    def create(self, name: str, listen: str, upstream: str) -> ProxyState:
        raise FaultError("attach mode creates no proxy; list the existing ones in the target file")

    def reset(self) -> None:
        raise FaultError(
            "attach mode never resets a Toxiproxy it does not own; it heals what it did (undo)"
        )

    def check_clean(self) -> dict[str, dict[str, Any]]:
        """Every declared proxy exists, is enabled and has no toxic; what each carries."""
        problems = []
        out: dict[str, dict[str, Any]] = {}
        for link, proxy in self.links.items():
            try:
                st = self.inner.get(proxy)
            except FaultError as e:
                problems.append(
                    f"toxiproxy.links.{link}: the Toxiproxy at {self.url} has no proxy "
                    f"{proxy!r} ({e}); fix the name or create the proxy"
                )
                continue
            if not st.enabled:
                problems.append(
                    f"toxiproxy.links.{link}: proxy {proxy!r} is disabled before the run; "
                    "enable it (the harness heals only what it did)"
                )
            if st.toxics:
                names = ", ".join(str(t.get("name")) for t in st.toxics)
                problems.append(
                    f"toxiproxy.links.{link}: proxy {proxy!r} already has toxics ({names}); "
                    "remove them before the run"
                )
            out[link] = {"proxy": proxy, "listen": st.listen, "upstream": st.upstream}
        if problems:
            raise ClusterError("; ".join(problems))
        return out

    def undo(self) -> dict[str, Any]:
        """Remove every toxic the harness added and enable every proxy it disabled."""
        with self._lock:
            toxics = {ln: sorted(ts) for ln, ts in self.toxics.items() if ts}
            disabled = sorted(self.disabled)
        done: dict[str, Any] = {"toxics_removed": {}, "enabled": [], "errors": []}
        for link, names in toxics.items():
            for name in names:
                try:
                    self.remove_toxic(link, name)
                    done["toxics_removed"].setdefault(link, []).append(name)
                except FaultError as e:
                    done["errors"].append(f"{link}/{name}: {e}")
        for link in disabled:
            try:
                self.set_enabled(link, True)
                done["enabled"].append(link)
            except FaultError as e:
                done["errors"].append(f"{link}: {e}")
        return done


__all__ = ["MappedToxiproxy"]

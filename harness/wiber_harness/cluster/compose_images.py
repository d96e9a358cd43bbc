"""Which images the compose backend runs, and whether they are there and current.

* :func:`choose_offline`: the official images, or the offline ones of
  ``docker/offline/build.sh`` (``offline``: ``None`` picks them when the
  official Kafka image is absent and the offline one present;
  ``WIBER_COMPOSE_OFFLINE=1|0`` forces the choice).
* :func:`check_images`: a missing image is named with the command that
  builds it (official images that are missing are pulled by ``up``); an app
  image built from other source than the one next to the compose files is
  refused (:func:`check_app_source`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from wiber_harness.cluster.compose_files import (
    APP_IMAGE,
    BUILD_SCRIPT,
    OFFICIAL_IMAGES,
    OFFLINE_IMAGES,
    image,
)
from wiber_harness.cluster.source_digest import LABEL as DIGEST_LABEL
from wiber_harness.cluster.source_digest import app_image_verdict, source_digest
from wiber_harness.errors import ClusterError

log = logging.getLogger(__name__)


def has_image(docker: Any, name: str) -> bool:
    try:
        docker.images.get(name)
        return True
    except Exception:
        return False


def choose_offline(docker: Any, offline: bool | None) -> bool:
    """Whether to run the offline images (see the module docstring)."""
    if offline is not None:
        return offline
    forced = os.environ.get("WIBER_COMPOSE_OFFLINE", "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    return not has_image(docker, image(OFFICIAL_IMAGES["kafka"])) and has_image(
        docker, image(OFFLINE_IMAGES["kafka"])
    )


def check_images(docker: Any, compose_dir: Path, offline: bool, app: bool) -> None:
    """ClusterError naming the fix when an image the stack needs is missing or stale."""
    table = OFFLINE_IMAGES if offline else OFFICIAL_IMAGES
    wanted = [image(table[k]) for k in ("kafka", "store", "toxiproxy")]
    if app:
        wanted.append(image(APP_IMAGE))
    missing = [i for i in wanted if not has_image(docker, i)]
    if not missing:
        if app:
            check_app_source(docker, compose_dir, image(APP_IMAGE))
        return
    if offline:
        raise ClusterError(
            f"images {', '.join(missing)} are not built; run 'bash "
            f"{compose_dir / BUILD_SCRIPT}' (it skips what exists)"
        )
    if image(APP_IMAGE) in missing:
        raise ClusterError(
            f"the app image {image(APP_IMAGE)} is not built; run 'docker compose -f "
            f"{compose_dir / 'docker-compose.yml'} build', or on a machine without "
            f"a registry 'bash {compose_dir / BUILD_SCRIPT}'"
        )
    # official images that are missing are pulled by 'up'


def check_app_source(docker: Any, compose_dir: Path, name: str) -> None:
    """Refuse an app image built from other source than the one next to the compose files.

    docker/offline/build.sh labels the image with the source's content
    digest; an image without the label (built another way) only earns a
    warning, since nothing tells whether it is current.
    """
    src = compose_dir.parent / "system" / "wiber"
    if not src.is_dir():  # compose files used without the repository: nothing to compare with
        return
    labels = docker.images.get(name).attrs.get("Config", {}).get("Labels") or {}
    verdict = app_image_verdict(labels.get(DIGEST_LABEL), source_digest(src))
    fix = f"rebuild it: bash {compose_dir / BUILD_SCRIPT}"
    if verdict == "unknown":
        log.warning(
            "the app image %s has no %s label, so it may run other code than %s; %s",
            name,
            DIGEST_LABEL,
            src,
            fix,
        )
    elif verdict == "stale":
        raise ClusterError(
            f"the app image {name} was built from other source than {src} "
            f"(its {DIGEST_LABEL} label differs), so scenarios would test old code; {fix}"
        )


__all__ = ["check_app_source", "check_images", "choose_offline", "has_image"]

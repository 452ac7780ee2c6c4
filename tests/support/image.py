"""The bot's image built and run without a Docker engine: a Debian base from debootstrap, buildah for the Dockerfile.

No registry image can be pulled here, so `PYTHON_IMAGE` is a local stand-in for python:3.11-slim-bookworm made from
Debian's own packages. Both images stay in buildah's store between runs: only what changed is rebuilt.
`python -m tests.support.image` builds the bot image and prints its id (`make image`).
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/incident-bot-base:bookworm"
BOT_IMAGE = "localhost/incident-bot:local"
# Tagged too, so that removing a superseded bot image never takes the build stage's cached layers with it.
BUILD_STAGE_IMAGE = "localhost/incident-bot:local-build"
SUITE = "bookworm"
TOOLS = ("buildah", "debootstrap")
BUILD_TIMEOUT = 900
LOCK = Path(tempfile.gettempdir()) / "incident-bot-image.lock"

# On top of the debootstrapped tree: a venv on PATH, so `python` and `pip` exist as in the python:*-slim images.
BASE_CONTAINERFILE = """\
FROM scratch
ADD rootfs.tar /
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
"""


def missing_requirement() -> str | None:
    """Why images cannot be built on this machine (None when they can)."""
    if sys.platform != "linux":
        return "container images are built with buildah, which needs Linux"
    if os.geteuid() != 0:
        return "debootstrap and buildah's chroot isolation need root"
    missing = [tool for tool in TOOLS if not _which(tool)]
    if missing:
        return f"{' and '.join(missing)} not installed (`make image-tools` installs them)"
    return None


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def buildah(*args: str, timeout: float = 120) -> str:
    """Run one buildah command; its stdout, or an AssertionError carrying its output."""
    done = subprocess.run([_which("buildah") or "buildah", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"buildah {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def image_id(name: str) -> str | None:
    """The id of the image tagged `name` in buildah's store, if any."""
    listed = subprocess.run([_which("buildah") or "buildah", "images", "--noheading", "--no-trunc",
                             "--format", "{{.ID}}", name], capture_output=True, text=True, check=False)
    ids = listed.stdout.split()
    return ids[0] if listed.returncode == 0 and ids else None


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The machine's Debian archive (not -security) as apt knows it: deb822 `.sources` files or `sources.list`."""
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE))
            if (fields.get("Enabled", "yes") != "no" and "deb" in fields.get("Types", "").split()
                    and SUITE in fields.get("Suites", "").split()):
                return fields["URIs"].split()[0]
    for path in lists:
        for line in path.read_text().splitlines() if path.exists() else []:
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    return "http://deb.debian.org/debian"


def ensure_base(workdir: Path) -> str:
    """The Debian base image standing in for `PYTHON_IMAGE`; made once (about a minute), then reused."""
    existing = image_id(BASE_IMAGE)
    if existing:
        return existing
    root = workdir / "rootfs"
    debootstrap = subprocess.run(
        [_which("debootstrap") or "debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
         SUITE, str(root), debian_mirror()],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    assert debootstrap.returncode == 0, f"debootstrap failed:\n{debootstrap.stdout[-3000:]}{debootstrap.stderr[-3000:]}"
    # What the official slim images leave out too: downloaded packages and package lists.
    for leftover in [*(root / "var/cache/apt").rglob("*.deb"), *(root / "var/cache/apt").glob("*.bin")]:
        leftover.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    subprocess.run(["tar", "-C", str(root), "-cf", str(workdir / "rootfs.tar"), "."], check=True)
    shutil.rmtree(root)
    (workdir / "Containerfile").write_text(BASE_CONTAINERFILE)
    buildah("build", "--isolation", "chroot", "--pull=never", "-t", BASE_IMAGE, str(workdir), timeout=BUILD_TIMEOUT)
    (workdir / "rootfs.tar").unlink()
    return image_id(BASE_IMAGE) or ""


def pip_settings() -> tuple[str, list[str]]:
    """This machine's effective pip configuration as one pip.conf, and the local paths it names (to mount read-only).

    Build steps reach the package index exactly as pip does here (its CA, index and links), without any of it
    being written into the image.
    """
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                            check=False).stdout
    sections: dict[str, dict[str, str]] = {}
    overrides: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        if not raw:
            continue
        section, _, name = key.rpartition(".")
        value = " ".join(str(ast.literal_eval(raw)).split())  # a list spread over lines in a file: one line
        if section == ":env:":
            overrides[name] = value  # PIP_* variables beat the files, as in pip itself
        else:
            sections.setdefault(section, {})[name] = value
    sections.setdefault("global", {}).update(overrides)
    text = "".join(f"[{section}]\n" + "".join(f"{name} = {value}\n" for name, value in values.items())
                   for section, values in sections.items())
    paths: set[Path] = set()
    for values in sections.values():
        for token in " ".join(values.values()).split():
            if token.startswith("file://"):
                path = Path(unquote(urlparse(token).path))
                # A PEP 503 index's files usually sit beside its `simple/` directory.
                paths.add(path.parent if path.name == "simple" else path)
            elif token.startswith("/"):
                paths.add(Path(token))
    existing = sorted(p for p in paths if p.exists() and ":" not in str(p))
    outermost = [p for p in existing if not any(other != p and other in p.parents for other in existing)]
    return text, [f"{p}:{p}:ro" for p in outermost]


@contextmanager
def exclusive() -> Iterator[None]:
    """Hold the machine's image lock: two runs share buildah's store and the tags above (a build by one would drop
    the image the other is about to run)."""
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_bot_image(context: Path = REPO) -> str:
    """Build the `bot` target of the real Dockerfile with buildah on the local base; the image id (hold `exclusive`)."""
    with tempfile.TemporaryDirectory(prefix="incident-bot-image-") as scratch:
        workdir = Path(scratch)
        base = ensure_base(workdir)
        pip_conf, volumes = pip_settings()
        (workdir / "pip.conf").write_text(pip_conf)
        mounts = [f"--volume={workdir / 'pip.conf'}:/etc/pip.conf:ro", *(f"--volume={v}" for v in volumes)]
        try:
            for target, tag in (("build", BUILD_STAGE_IMAGE), ("bot", BOT_IMAGE)):
                buildah("build", "--isolation", "chroot", "--pull=never", "--layers", "--force-rm",
                        "--format", "docker", "--target", target, "-t", tag, f"--build-arg=PYTHON_IMAGE={base}",
                        *mounts, "-f", str(context / "Dockerfile"), str(context), timeout=BUILD_TIMEOUT)
        finally:
            _remove_stale_images(base)
        return image_id(BOT_IMAGE) or ""


def _first_layer(image: str) -> str | None:
    config = json.loads(buildah("inspect", "--type", "image", image))
    layers = config["OCIv1"]["rootfs"]["diff_ids"]
    return str(layers[0]) if layers else None


def _remove_stale_images(base: str) -> None:
    """Drop the layers of earlier builds on our base that no tag uses any more (the store grows by ~0.3 GB per
    source change otherwise); images of other projects and any image a container still uses stay."""
    ours = _first_layer(base)
    removed = True
    while removed:  # removing an image can leave its parent dangling
        removed = False
        listed = buildah("images", "--all", "--noheading", "--no-trunc", "--filter", "dangling=true",
                         "--format", "{{.ID}}")
        for stale in listed.split():
            if _first_layer(stale) == ours and subprocess.run(
                    [_which("buildah") or "buildah", "rmi", stale], capture_output=True, check=False).returncode == 0:
                removed = True


@contextmanager
def working_container(image: str) -> Iterator[str]:
    """A buildah working container from `image`, removed afterwards."""
    name = f"incident-bot-test-{uuid.uuid4().hex[:8]}"
    buildah("from", "--pull=never", "--name", name, image)
    try:
        yield name
    finally:
        buildah("rm", name)


def main() -> None:
    """Build the bot image here (`make image`)."""
    reason = missing_requirement()
    if reason:
        sys.exit(f"cannot build the image: {reason}")
    with exclusive():
        print(f"{BOT_IMAGE} {build_bot_image()}")


if __name__ == "__main__":
    main()

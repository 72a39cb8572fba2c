#!/usr/bin/env python3
"""Checks that an image archive built by scripts/build-image.sh is the image deploy/Dockerfile
describes, and that it is built as the project promises.

    check-dockerfile.py ARCHIVE [DOCKERFILE [CARGO_TOML]]

Compared with the Dockerfile's final stage: the labels (with its ARG defaults substituted; the
VERSION default must be the workspace version), USER, ENTRYPOINT, CMD, EXPOSE, and the COPY
destination, which must be the entrypoint and an executable file in the image. What the
Dockerfile inherits from its base image (working directory, environment, the nonroot user in
/etc/passwd) is compared with the facts of that base, written down below: a new FROM needs them
updated. Also checked in the layers: every file owned by root except the user's home, no
set-uid/set-gid file, nothing world-writable but /tmp, every timestamp equal to the image's
creation time (reproducible builds), and Debian's CA bundle present.

Prints one summary line; on a mismatch one line per problem on stderr and exit status 1.
"""
import io
import json
import re
import shlex
import sys
import tarfile
from pathlib import Path

# What gcr.io/distroless/cc-debian12:nonroot gives an image built on it (its config and files).
BASES = {
    "gcr.io/distroless/cc-debian12:nonroot": {
        "WorkingDir": "/home/nonroot",
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        ],
        "passwd": "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
    }
}
# Labels the buildah build adds that a Docker build of the Dockerfile cannot know.
BUILD_ONLY_LABELS = {"io.buildah.version", "org.opencontainers.image.revision"}


def instructions(dockerfile):
    """The Dockerfile's instructions as (KEYWORD, rest), continuation lines joined."""
    out, pending = [], ""
    for line in Path(dockerfile).read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def final_stage(dockerfile):
    steps = instructions(dockerfile)
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    stage = {"FROM": steps[last_from][1].split()[0], "ARG": {}, "LABEL": {}, "EXPOSE": set()}
    for keyword, rest in steps[last_from + 1:]:
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            stage["ARG"][name] = default
        elif keyword == "LABEL":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                stage["LABEL"][key] = re.sub(
                    r"\$\{(\w+)\}|\$(\w+)", lambda m: stage["ARG"].get(m.group(1) or m.group(2), ""), value)
        elif keyword == "COPY":
            stage["COPY"] = [t for t in shlex.split(rest) if not t.startswith("--")][-1]
        elif keyword == "EXPOSE":
            stage["EXPOSE"] |= {p if "/" in p else p + "/tcp" for p in rest.split()}
        elif keyword in ("ENTRYPOINT", "CMD"):
            stage[keyword] = json.loads(rest)
        elif keyword == "USER":
            stage["USER"] = rest
        else:
            stage.setdefault("OTHER", []).append(keyword)
    return stage


def member(tar, name):
    for candidate in (name, "./" + name):
        try:
            return tar.extractfile(candidate).read()
        except KeyError:
            continue
    raise KeyError(name)


def read_image(archive):
    """(config, {path: TarInfo}, {path: bytes of small files}) of the archive's only image."""
    with tarfile.open(archive) as tar:
        index = json.loads(member(tar, "index.json"))
        if len(index["manifests"]) != 1:
            raise ValueError(f"{archive}: {len(index['manifests'])} manifests, want 1")
        blob = lambda digest: member(tar, "blobs/sha256/" + digest.split(":", 1)[1])
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        files, contents = {}, {}
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=io.BytesIO(blob(layer["digest"]))) as lt:
                for info in lt.getmembers():
                    path = "/" + info.name.lstrip("./").rstrip("/")
                    files[path] = info
                    if info.isfile() and info.size < 1_000_000:
                        contents[path] = lt.extractfile(info).read()
    return config, files, contents


def main():
    here = Path(__file__).resolve().parent
    archive = sys.argv[1]
    dockerfile = sys.argv[2] if len(sys.argv) > 2 else here.parents[1] / "deploy" / "Dockerfile"
    cargo = sys.argv[3] if len(sys.argv) > 3 else here.parents[1] / "Cargo.toml"
    problems = []
    stage = final_stage(dockerfile)
    config, files, contents = read_image(archive)
    cfg = config.get("config", {})

    base = BASES.get(stage["FROM"])
    if base is None:
        problems.append(f"Dockerfile base {stage['FROM']} unknown here: add its facts to BASES")
        base = {"WorkingDir": None, "Env": [], "passwd": ""}
    for other in stage.get("OTHER", []):
        problems.append(f"Dockerfile instruction {other} in the final stage is not compared: extend this check")

    version = re.search(r'^version = "([^"]+)"', Path(cargo).read_text(), re.M)
    if not version or stage["ARG"].get("VERSION") != version.group(1):
        problems.append(f"Dockerfile ARG VERSION={stage['ARG'].get('VERSION')} is not the workspace version "
                        f"{version.group(1) if version else '?'}")
    labels = cfg.get("Labels") or {}
    for key, want in stage["LABEL"].items():
        if labels.get(key) != want:
            problems.append(f"label {key}: image {labels.get(key)!r}, Dockerfile {want!r}")
    for key in sorted(set(labels) - set(stage["LABEL"]) - BUILD_ONLY_LABELS):
        problems.append(f"label {key} is in the image but not in the Dockerfile")
    for key, image_value, want in (
        ("USER", cfg.get("User"), stage.get("USER")),
        ("ENTRYPOINT", cfg.get("Entrypoint"), stage.get("ENTRYPOINT")),
        ("CMD", cfg.get("Cmd"), stage.get("CMD")),
        ("EXPOSE", set(cfg.get("ExposedPorts") or {}), stage["EXPOSE"]),
        ("WORKDIR (base)", cfg.get("WorkingDir"), base["WorkingDir"]),
        ("ENV (base)", sorted(cfg.get("Env") or []), sorted(base["Env"])),
    ):
        if image_value != want:
            problems.append(f"{key}: image {image_value!r}, Dockerfile {want!r}")

    binary = stage.get("COPY")
    info = files.get(binary or "")
    if info is None or not info.isfile() or info.mode & 0o777 != 0o755:
        problems.append(f"the Dockerfile's COPY destination {binary} is not an executable (0755) file in the image")
    if not stage.get("ENTRYPOINT") or stage["ENTRYPOINT"][0] != binary:
        problems.append(f"ENTRYPOINT {stage.get('ENTRYPOINT')} does not start the copied binary {binary}")

    passwd = contents.get("/etc/passwd", b"").decode().splitlines()
    if base["passwd"] and base["passwd"] not in passwd:
        problems.append(f"/etc/passwd lacks the base image's user line {base['passwd']!r}")
    uid, _, gid = (stage.get("USER") or "").partition(":")
    user = next((line.split(":") for line in passwd if line.split(":")[2:3] == [uid]), None)
    if user is None or (gid and user[3] != gid) or user[2] == "0":
        problems.append(f"USER {stage.get('USER')} is not a non-root user of /etc/passwd")
    elif "/" + user[5].strip("/") not in files:
        problems.append(f"the user's home {user[5]} is not in the image")
    if len(contents.get("/etc/ssl/certs/ca-certificates.crt", b"")) < 10_000:
        problems.append("/etc/ssl/certs/ca-certificates.crt is missing or too small")

    created = config.get("created", "")
    for path, info in sorted(files.items()):
        home = user is not None and path == "/" + user[5].strip("/")
        if (info.uid, info.gid) != (0, 0) and not home:
            problems.append(f"{path} is owned by {info.uid}:{info.gid}, not root")
        if info.mode & 0o6000:
            problems.append(f"{path} is set-uid/set-gid")
        if info.mode & 0o002 and path != "/tmp":
            problems.append(f"{path} is world-writable")
        if not created.startswith(_iso(info.mtime)):
            problems.append(f"{path} has timestamp {_iso(info.mtime)}, not the image's {created}")
            break

    if problems:
        for p in problems:
            print(f"image: {p}", file=sys.stderr)
        return 1
    print(f"image matches {dockerfile}: user {cfg['User']}, entrypoint {cfg['Entrypoint']}, cmd {cfg['Cmd']}, "
          f"{len(stage['LABEL'])} labels, {len(files)} paths")
    return 0


def _iso(epoch):
    import datetime
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


if __name__ == "__main__":
    sys.exit(main())

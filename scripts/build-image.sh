#!/usr/bin/env bash
# `make image`: builds the emr-on-eks-operator image as an OCI archive with buildah, from scratch
# (no base image pulled, no daemon, no registry):
#
#   target/image/emr-on-eks-operator-<version>.oci.tar   (tag emr-on-eks-operator:<version>)
#
# The image holds the release binary, exactly the shared libraries it links (taken from the
# installed files of the Debian packages that provide them, checked against dpkg's md5sums),
# Debian's CA bundle, /etc/passwd and /etc/group with the non-root user 65532, the packages'
# copyright files and dpkg status records (/var/lib/dpkg/status.d/, where scanners look, as in
# distroless). Paths, user, entrypoint, command, port and labels are those of deploy/Dockerfile
# (tests/image/check-dockerfile.py compares the two).
#
# Reproducible: every file and the image's creation time carry SOURCE_DATE_EPOCH (default: the
# last commit's time), and the archive is written with sorted names and fixed owners, so the same
# binary gives the same archive, byte for byte.
#
#   scripts/build-image.sh [BINARY [ARCHIVE]]
#     BINARY   default $CARGO_TARGET_DIR/release/emr-on-eks-operator (make image builds it;
#              CARGO_TARGET_DIR defaults to target)
#     ARCHIVE  default target/image/emr-on-eks-operator-<version>.oci.tar
#
# buildah runs as root with the vfs storage driver and a store of its own for each build, removed
# afterwards (never the machine's /var/lib/containers, and builds running at once never meet).
# tests/bed/install-deps.sh installs buildah.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

die() { echo "build-image: $*" >&2; exit 1; }

command -v buildah >/dev/null || die "buildah not found: run tests/bed/install-deps.sh (or make deps)"
[[ $(id -u) -eq 0 ]] || die "buildah with the vfs driver and chroot isolation needs root here"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
[[ -n $version ]] || die "no workspace version in Cargo.toml"
binary="${1:-${CARGO_TARGET_DIR:-target}/release/emr-on-eks-operator}"
archive="${2:-target/image/emr-on-eks-operator-$version.oci.tar}"
[[ -x $binary ]] || die "$binary not found: cargo build --release -p emr-on-eks-operator (make image does)"
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

image_dir="$repo/target/image"
mkdir -p "$image_dir"
work="$(mktemp -d "$image_dir/work.XXXXXX")"
store="$work/store"
container=""
bh() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
cleanup() {
  [[ -n $container ]] && bh rm "$container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

rootfs="$work/rootfs"
mkdir -p "$rootfs"/{usr/local/bin,etc/ssl/certs,home/nonroot,tmp,var/lib/dpkg/status.d,usr/share/doc}

# The binary at the Dockerfile's path.
install -m 0755 "$binary" "$rootfs/usr/local/bin/emr-on-eks-operator"

# dpkg's record of the package owning PATH: "package" (with :arch) or nothing.
owner_of() { dpkg-query -S "$1" 2>/dev/null | awk -F': ' -v p="$1" '$2 == p { print $1; exit }'; }
declare -A packages=()
# Copies PATH (as the dynamic loader names it) into the image as a regular file, after checking
# that its content is the Debian package's (md5sums; through one symlink as /lib64/ld-linux-*).
add_library() {
  local path=$1 pkg real sum want rel
  pkg="$(owner_of "$path")"
  [[ -n $pkg ]] || die "$path (linked by $binary) belongs to no Debian package"
  real=$path
  [[ -L $path && $(readlink "$path") == /* ]] && real="$(readlink "$path")"
  rel="${real#/}"
  want="$(awk -v f="$rel" '$2 == f { print $1 }' "/var/lib/dpkg/info/$pkg.md5sums" 2>/dev/null)"
  [[ -n $want ]] || want="$(awk -v f="$rel" '$2 == f { print $1 }' "/var/lib/dpkg/info/${pkg%%:*}.md5sums" 2>/dev/null)"
  sum="$(md5sum <"$path" | cut -d' ' -f1)"
  [[ -n $want && $sum == "$want" ]] || die "$path differs from package $pkg's file (md5 $sum, dpkg ${want:-none})"
  mkdir -p "$rootfs$(dirname "$path")"
  cp -L "$path" "$rootfs$path"
  chmod 0755 "$rootfs$path"
  packages[${pkg%%:*}]=1
}
mapfile -t libs < <(ldd "$binary" | grep -o '/[^ ]*' | sort -u)
((${#libs[@]})) || die "ldd lists no libraries for $binary (a static binary needs no script change, but check)"
for lib in "${libs[@]}"; do add_library "$lib"; done

# CA certificates: the bundle update-ca-certificates builds from Debian's ca-certificates.
bundle=/etc/ssl/certs/ca-certificates.crt
[[ -s $bundle ]] || die "$bundle missing: apt-get install ca-certificates"
install -m 0644 "$bundle" "$rootfs$bundle"
packages[ca-certificates]=1

# Users: root and nonroot (65532), as distroless has them.
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
# glibc resolves names with files, then DNS (the API server and AWS endpoints).
echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs"/etc/{passwd,group,nsswitch.conf}

# What the image holds from Debian, where scanners and auditors look.
for pkg in $(printf '%s\n' "${!packages[@]}" | sort); do
  dpkg-query -s "$pkg" | grep -vE '^(Status|Conffiles|Config-Version):' >"$rootfs/var/lib/dpkg/status.d/$pkg"
  if [[ -f /usr/share/doc/$pkg/copyright ]]; then
    install -D -m 0644 "/usr/share/doc/$pkg/copyright" "$rootfs/usr/share/doc/$pkg/copyright"
  fi
done

chmod 0755 "$rootfs" "$rootfs"/{usr,usr/local,usr/local/bin,etc,etc/ssl,etc/ssl/certs,home,var,var/lib,var/lib/dpkg,var/lib/dpkg/status.d,usr/share,usr/share/doc}
chmod 0700 "$rootfs/home/nonroot"
chmod 1777 "$rootfs/tmp"
chown -R 0:0 "$rootfs"
chown 65532:65532 "$rootfs/home/nonroot"

container="$(bh from --quiet scratch)"
mnt="$(bh mount "$container")"
cp -a "$rootfs/." "$mnt/"
bh umount "$container" >/dev/null

# Labels, user, entrypoint, command and port exactly as deploy/Dockerfile's final stage; the
# environment distroless sets (PATH, SSL_CERT_FILE).
bh config \
  --label org.opencontainers.image.title="emr-on-eks-operator" \
  --label org.opencontainers.image.description="Kubernetes operator for Amazon EMR on EKS" \
  --label org.opencontainers.image.source="https://github.com/emr-on-eks-operator/emr-on-eks-operator" \
  --label org.opencontainers.image.licenses="Apache-2.0" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --user 65532:65532 \
  --workingdir /home/nonroot \
  --port 8080/tcp \
  --entrypoint '["/usr/local/bin/emr-on-eks-operator"]' \
  --cmd run \
  --os linux --arch "$(dpkg --print-architecture)" \
  --created-by "scripts/build-image.sh" \
  "$container"

layout="$work/layout"
bh commit --quiet --timestamp "$epoch" --disable-compression=false --rm \
  "$container" "oci:$layout:emr-on-eks-operator:$version" >/dev/null
container=""
mkdir -p "$(dirname "$archive")"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$layout" -cf "$archive.tmp" .
mv "$archive.tmp" "$archive"

size=$(stat -c %s "$archive")
unpacked=$(du -sb "$rootfs" | cut -f1)
printf 'image: %s (emr-on-eks-operator:%s), %s MiB archive, %s MiB unpacked; sha256 %s\n' \
  "$archive" "$version" "$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }')" \
  "$(awk -v b="$unpacked" 'BEGIN { printf "%.1f", b / 1048576 }')" "$(sha256sum "$archive" | cut -d' ' -f1)"

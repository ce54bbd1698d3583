#!/bin/sh
# Tools/numa-vm/setup.sh: prepares what Tools/numa-vm/run needs, installing only what is
# missing:
#   - packages qemu-system-x86 (TCG is enough), busybox-static (the guest's userland),
#     xz-utils (the kernel's modules are xz-compressed);
#   - a Linux 6.12 kernel (Debian's linux-image-6.12-amd64, bookworm-security): 6.12
#     forms memory tiers from the firmware's HMAT, 6.1 puts both nodes in one tier.
#     The package (about 100 MB, from the Debian mirror apt uses) is downloaded and
#     unpacked once, NOT installed: the host's own kernel and boot set-up are left
#     alone. Only vmlinuz and the four 9p modules are kept (13 MB), in
#     $NUMAVM_KERNEL_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/pypper/numa-vm/kernel:
#     outside the tree, so make clean and fresh clones reuse it.
# Exit 0 when everything is in place; otherwise 1 with "numa-vm setup: MISSING: ..." lines.
set -u

KDIR=${NUMAVM_KERNEL_DIR:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/pypper/numa-vm/kernel}
KPKG_META=linux-image-6.12-amd64
MODULES="fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi

say() { echo "numa-vm setup: $*"; }
missing() { echo "numa-vm setup: MISSING: $*" >&2; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

updated=no
apt_update() {
    [ "$updated" = yes ] && return 0
    updated=yes
    $SUDO apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed (no mirror?)"
}

# 1. Host packages.
need=""
for p in qemu-system-x86 busybox-static xz-utils; do
    installed "$p" || need="$need $p"
done
if [ -n "$need" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        missing "packages:$need (no apt-get on this system)"; exit 1
    fi
    say "installing:$need"
    apt_update
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null; then
        still=""
        for p in $need; do installed "$p" || still="$still $p"; done
        missing "packages:$still (apt-get install failed)"; exit 1
    fi
fi
for c in qemu-system-x86_64 busybox xz; do
    command -v "$c" >/dev/null 2>&1 || { missing "command $c"; exit 1; }
done

# 2. The guest kernel, unpacked into the cache.
kernel_ready() {
    [ -f "$KDIR/vmlinuz" ] && [ -f "$KDIR/release" ] || return 1
    for m in $MODULES; do [ -f "$KDIR/modules/$(basename "$m").ko" ] || return 1; done
}
if kernel_ready; then
    say "ready: kernel $(cat "$KDIR/release") in $KDIR (cached)"
    exit 0
fi

kpkg() {
    apt-cache depends "$KPKG_META" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-6\.12[^ ]*-amd64\)$/\1/p' | head -n 1
}
pkg=$(kpkg)
if [ -z "$pkg" ]; then
    apt_update
    pkg=$(kpkg)
fi
if [ -z "$pkg" ]; then
    missing "kernel package $KPKG_META is unknown to apt (needs Debian 12's bookworm-security suite in the apt sources)"
    exit 1
fi

# Unpacked next to KDIR (the same file system: the result is renamed into place).
tmp=$KDIR.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/deb" "$tmp/x" || { missing "cannot create $tmp (set NUMAVM_KERNEL_DIR)"; exit 1; }
trap 'rm -rf "$tmp"' EXIT
say "downloading $pkg (about 100 MB; unpacked into $KDIR, not installed)"
# apt-get download drops privileges to _apt when it can write the directory.
chmod 777 "$tmp/deb" 2>/dev/null
if ! (cd "$tmp/deb" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
    missing "download of $pkg failed (no access to the Debian mirror?)"; exit 1
fi
if ! dpkg-deb -x "$tmp"/deb/*.deb "$tmp/x"; then
    missing "cannot unpack $pkg"; exit 1
fi
vmlinuz=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || { missing "no vmlinuz in $pkg"; exit 1; }
release=${vmlinuz##*/vmlinuz-}
mkdir -p "$tmp/k/modules"
cp "$vmlinuz" "$tmp/k/vmlinuz"
for m in $MODULES; do
    src=$tmp/x/lib/modules/$release/kernel/$m.ko
    if [ -f "$src.xz" ]; then
        xz -dc "$src.xz" > "$tmp/k/modules/$(basename "$m").ko" || { missing "cannot decompress $m"; exit 1; }
    elif [ -f "$src" ]; then
        cp "$src" "$tmp/k/modules/"
    else
        missing "module $m not in $pkg"; exit 1
    fi
done
echo "$release" > "$tmp/k/release"
if kernel_ready; then
    say "another setup has unpacked a kernel into $KDIR meanwhile: using it"
    release=$(cat "$KDIR/release")
else
    rm -rf "$KDIR"
    mv -T "$tmp/k" "$KDIR" || { missing "cannot move the kernel into $KDIR"; exit 1; }
fi
say "ready: kernel $release in $KDIR"
exit 0

# scripts/lib.sh: shared by scripts/demo, scripts/test and .ci/run.
# Installs what the project needs (idempotently) and builds it.

LQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages: build tools, libraries we link, and the real
# infrastructure the tests and the sandbox start (OVS, OVN, ...).
LQ_PACKAGES=(
    build-essential pkg-config meson ninja-build python3 openssl curl
    ca-certificates iproute2 procps busybox-static ethtool iputils-ping
    libmicrohttpd-dev libgnutls28-dev libyaml-dev libcurl4-openssl-dev
    libnl-3-dev libnl-route-3-dev libvirt-dev libcmocka-dev libssl-dev
    openvswitch-source openvswitch-common openvswitch-switch
    ovn-common ovn-central ovn-host
    ceph-mon ceph-osd ceph-mgr ceph-common librbd-dev librados-dev
    python3-rados python3-rbd qemu-utils qemu-block-extra
    python3-websockets python3-cryptography
    libxml2-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 linux-image-amd64 ovmf qemu-guest-agent
    libdpdk-dev dpdk-dev openvswitch-switch-dpdk
    libiscsi-dev libiscsi-bin tgt
    libnfs-dev libnfs-utils nfs-ganesha nfs-ganesha-vfs
    lvm2 thin-provisioning-tools
    protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev
    libnghttp2-dev nghttp2-client python3-grpcio python3-grpc-tools wrk
    python3-prometheus-client
    zlib1g-dev libisofs-dev
)

lq_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

lq_require_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root (it installs packages and starts private daemons)" >&2
        exit 2
    fi
}

# Installs missing packages.  Daemons that packages would start (OVS, OVN)
# are kept from starting by a temporary policy-rc.d: the project always
# runs its own private instances.
lq_install_deps() {
    local missing=()
    for p in "${LQ_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$p")
    done
    # npm (with node) for the tests' buf and Connect client; a node.js
    # that is already there (with its own npm) is kept.
    command -v npm >/dev/null || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    lq_log "installing: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d had_policy=0
    [ -e "$policy" ] && had_policy=1
    [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        >/tmp/limiquantix-apt.log 2>&1
    local rc=$?
    [ $had_policy = 1 ] || rm -f "$policy"
    if [ $rc != 0 ]; then
        tail -20 /tmp/limiquantix-apt.log >&2
        echo "apt-get failed (log: /tmp/limiquantix-apt.log)" >&2
        exit 1
    fi
}

# Builds libopenvswitch (cached) and configures PKG_CONFIG_PATH for meson.
lq_build_ovs() {
    local dir
    dir=$("$LQ_ROOT/scripts/build-libopenvswitch") || exit 1
    export PKG_CONFIG_PATH="$dir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
}

# lq_build BUILDDIR [MESON OPTIONS...]
lq_build() {
    local builddir=$1; shift
    if [ ! -f "$LQ_ROOT/$builddir/build.ninja" ]; then
        meson setup "$LQ_ROOT/$builddir" "$LQ_ROOT" "$@" >/dev/null || exit 1
    fi
    ninja -C "$LQ_ROOT/$builddir" >/dev/null || { ninja -C "$LQ_ROOT/$builddir"; exit 1; }
}

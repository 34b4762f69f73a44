#!/usr/bin/env bash
# shellcheck shell=bash
# live-migration-lab: builds a local node's images with buildah (once per name), so nothing is ever
# pulled (there is no registry): the images `kubeadm config images list` names (kube-apiserver,
# kube-controller-manager, kube-scheduler, kube-proxy, etcd, CoreDNS, pause), each a scratch image
# holding the binary of that name on the node's PATH (on local nodes what scripts/k8s-build.sh
# made, bound at /opt/lab/bin), kube-proxy with the node's iptables (nft) and its libraries; pause
# also under CRI-O's pause_image; and a busybox image from
# the node's busybox for the lab's test pods. Reproducible: every node must hold the same busybox
# id, because a checkpoint archive names its container's base image by id and restores only on top
# of that very image. Inputs: KUBERNETES_VERSION, PAUSE_IMAGE (CRI-O's), BUSYBOX_IMAGE.
# Prints the kubeadm image names and the busybox id.

# build IMAGE STEP...: runs each STEP (a function taking the working container) on a new image.
build() {
  local image=$1 c step; shift
  buildah inspect --type image "$image" >/dev/null 2>&1 && return 0
  c=$(buildah from scratch)
  for step in "$@"; do "$step" "$c"; done
  buildah config --env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  buildah commit --quiet --timestamp 0 "$c" "$image" >/dev/null
  buildah rm "$c" >/dev/null
}
# on_path NAME: the file NAME on the node's PATH resolves to (its images hold the file, not a link).
on_path() {
  local f
  f=$(command -v "$1") || { echo "no $1 on $(hostname)'s PATH: kubeadm's images are built from the binaries there" >&2; return 1; }
  readlink -f "$f"
}
# binary: the step that copies $name (the image being built) to /usr/local/bin.
binary() { local f; f=$(on_path "$name"); buildah copy "$1" "$f" "/usr/local/bin/$name" >/dev/null; }
pause_files() { local f; f=$(on_path pause); buildah copy "$1" "$f" /pause >/dev/null; buildah config --entrypoint '["/pause"]' "$1"; }
# kubeadm's CoreDNS Deployment passes only arguments (-conf ...).
coredns_files() { local f; f=$(on_path coredns); buildah copy "$1" "$f" /coredns >/dev/null; buildah config --entrypoint '["/coredns"]' "$1"; }
# kube-proxy programs iptables: the node's nft-based iptables, its extensions and their libraries.
proxy_files() {
  local d f x
  binary "$1"
  d=$(mktemp -d)
  x=$(dirname "$(readlink -f "$(ldd /usr/sbin/xtables-nft-multi | awk '/libxtables/ {print $3}')")")/xtables
  mkdir -p "$d/usr/sbin"
  cp -a /usr/sbin/xtables-nft-multi "$d/usr/sbin/"
  for f in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi "$d/usr/sbin/$f"; done
  cp -a --parents "$x" "$d/"
  for f in $( { ldd /usr/sbin/xtables-nft-multi; for so in "$x"/*.so; do ldd "$so"; done; } | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
    cp -L --parents "$f" "$d/"
  done
  buildah copy "$1" "$d" / >/dev/null
  rm -rf "$d"
}
busybox_files() {
  local d a
  buildah copy "$1" /bin/busybox /bin/busybox >/dev/null
  d=$(mktemp -d); mkdir "$d/bin"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"; done
  buildah copy "$1" "$d/bin" /bin >/dev/null; rm -rf "$d"
  buildah config --cmd '["/bin/sh"]' "$1"
}

mapfile -t images < <(kubeadm config images list --kubernetes-version "v$KUBERNETES_VERSION")
[ "${#images[@]}" -gt 0 ] || { echo "kubeadm listed no images for v$KUBERNETES_VERSION" >&2; exit 1; }
for image in "${images[@]}"; do
  name=${image##*/}; name=${name%%:*}
  case "$name" in
    kube-proxy) build "$image" proxy_files ;;
    kube-*|etcd) build "$image" binary ;;
    coredns) build "$image" coredns_files ;;
    pause)
      build "$image" pause_files
      [ "$PAUSE_IMAGE" = "$image" ] || buildah tag "$image" "$PAUSE_IMAGE" ;;
    *) echo "kubeadm lists an image the lab cannot build: $image" >&2; exit 1 ;;
  esac
done
# busybox is for the lab's test pods: hosts without it get none.
[ ! -x /bin/busybox ] || build "$BUSYBOX_IMAGE" busybox_files
printf '{"kubeadm":%s,"busybox":"%s"}\n' "$(printf '%s\n' "${images[@]}" | python3 -c 'import json, sys; print(json.dumps(sys.stdin.read().split()))')" \
  "$(buildah inspect --type image --format '{{.FromImageID}}' "$BUSYBOX_IMAGE")"

#!/bin/bash
# Builds a small OCI image layout from busybox-static into $1 (for the node
# tests and demos): no network, and the same bytes on every run.
#   layer 1: /bin/busybox, its applets (symlinks; sh a hardlink), /etc basics,
#            /etc/berth-lower and /opt/berth/lower for layer 2 to delete
#   layer 2: /var/www/index.html, a whiteout of /etc/berth-lower and an
#            opaque /opt/berth (so rootfs tests see whiteouts applied)
# Config: Cmd ["sh"], Env PATH=..., ExposedPorts 80/tcp.  Tag: "latest".
set -euo pipefail

out=${1:?usage: mkimage.sh OUTPUT_DIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "mkimage: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "mkimage: $busybox is dynamically linked; need busybox-static" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C TZ=UTC
umask 022

# deterministic tar: sorted names, fixed times and owners, no pax times
dtar() {
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--format=gnu -C "$1" -cf - .
}

l1=$work/l1
mkdir -p "$l1"/{bin,etc,tmp,root,proc,sys,dev,var/www,opt/berth,usr/bin,usr/sbin,sbin,home}
cp "$busybox" "$l1/bin/busybox"
chmod 0755 "$l1/bin/busybox"
for a in $("$l1/bin/busybox" --list); do
	case $a in busybox|sh|'[['|'[') continue ;; esac
	ln -s busybox "$l1/bin/$a"
done
ln -s busybox "$l1/bin/["
ln -s busybox "$l1/bin/[["
ln "$l1/bin/busybox" "$l1/bin/sh" # a hard link, as images have them
chmod 1777 "$l1/tmp"
chmod 0700 "$l1/root"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$l1/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$l1/etc/group"
printf 'berth busybox test image\n' >"$l1/etc/berth-release"
printf 'deleted by layer 2\n' >"$l1/etc/berth-lower"
printf 'hidden by the opaque dir of layer 2\n' >"$l1/opt/berth/lower"

l2=$work/l2
mkdir -p "$l2"/{etc,var/www,opt/berth}
printf '<h1>berth</h1>\n' >"$l2/var/www/index.html"
: >"$l2/etc/.wh.berth-lower"
: >"$l2/opt/berth/.wh..wh..opq"
printf 'from layer 2\n' >"$l2/opt/berth/upper"

find "$l1" "$l2" -exec touch -h -d @0 {} +

rm -rf "$out.tmp"
mkdir -p "$out.tmp/blobs/sha256"
blob() { # FILE -> moves it into blobs, prints "digest size"
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$out.tmp/blobs/sha256/$d"
	echo "sha256:$d $s"
}

layers=() diffs=()
for l in "$l1" "$l2"; do
	dtar "$l" >"$work/layer.tar"
	diffs+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
	gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
	layers+=("$(blob "$work/layer.tar.gz")")
done

cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/","ExposedPorts":{"80/tcp":{}}},"rootfs":{"type":"layers","diff_ids":["${diffs[0]}","${diffs[1]}"]},"history":[{"created_by":"berth scripts/mkimage.sh: busybox"},{"created_by":"berth scripts/mkimage.sh: whiteouts"}]}
JSON
read -r cdig csize <<<"$(blob "$work/config.json")"
read -r l1dig l1size <<<"${layers[0]}"
read -r l2dig l2size <<<"${layers[1]}"

cat >"$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$cdig","size":$csize},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$l1dig","size":$l1size},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$l2dig","size":$l2size}]}
JSON
read -r mdig msize <<<"$(blob "$work/manifest.json")"

cat >"$out.tmp/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$mdig","size":$msize,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
JSON
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out.tmp/oci-layout"

rm -rf "$out"
mv "$out.tmp" "$out"
echo "mkimage: $out: image $cdig (manifest $mdig)"

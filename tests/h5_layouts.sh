#!/bin/sh
# h5_layouts.sh — the HDF5 object-header guard (h5_ohdr_check.h) raises no
# false alarm on the layouts h5py writes, old (libver earliest: version 1
# headers, symbol tables) and new (libver latest: version 2 "OHDR"
# headers, version 3 attribute messages, version 2 dataspaces, a null
# dataspace, dense link and attribute storage), with scalar, string,
# array and empty attributes on groups and datasets: import-keras on them
# fails for what they are (not Keras models), never as a damaged object
# header.  The same files with one attribute's dataspace size made 97
# bytes longer than its message are refused as damaged, naming the file.
set -u
sv="$SV_BUILDDIR/stampvet"
PY="${SV_PYTHON:-}"
if [ -z "$PY" ] || ! "$PY" -c 'import h5py, numpy' 2>/dev/null; then
    echo "SKIP: needs SV_PYTHON with h5py and numpy"
    exit 77
fi
if "$sv" import-keras --help | grep -q 'NOT AVAILABLE'; then
    echo "SKIP: built without HDF5"
    exit 77
fi
tmp=$(mktemp -d /tmp/sv_h5_layouts.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$PY" - "$tmp" <<'PY' || fail "h5py"
import sys, h5py, numpy as np
for lib in ("earliest", "latest"):
    with h5py.File("%s/%s.h5" % (sys.argv[1], lib), "w", libver=lib) as f:
        f.attrs["s"] = "hello"
        f.attrs["fixed"] = np.array([b"ab", b"cd"])
        f.attrs["ints"] = np.arange(7)
        f.attrs["empty"] = h5py.Empty("f")
        f.attrs["m"] = np.ones((3, 4))
        g = f.create_group("g")
        g.attrs["x"] = 1.5
        for i in range(12):  # more than 8 links: dense storage with libver latest
            h = g.create_group("sub%d" % i)
            h.attrs["v"] = "val%d" % i
            h.create_dataset("d", data=np.arange(10)).attrs["unit"] = "m"
        d = f.create_dataset("big", data=np.zeros((5, 5)))
        for i in range(20):
            d.attrs["a%d" % i] = i
    # the root's attribute "s" with its dataspace size 97 bytes too long
    b = bytearray(open("%s/%s.h5" % (sys.argv[1], lib), "rb").read())
    # its message body: version 1 [1, 0, name size 2, ...] then the name
    # at +8; version 3 [3, flags, name size 2, ..., encoding] then at +9
    at, k = -1, b.find(b"s\0", 64)
    while k > 0 and at < 0:
        if b[k - 8] == 1 and b[k - 6:k - 4] == b"\x02\x00":
            at = k - 8
        elif b[k - 9] == 3 and b[k - 7:k - 5] == b"\x02\x00":
            at = k - 9
        k = b.find(b"s\0", k + 1)
    assert at > 0, "no attribute 's' found"
    v = int.from_bytes(b[at + 6:at + 8], "little") + 97
    b[at + 6:at + 8] = v.to_bytes(2, "little")
    open("%s/%s_bad.h5" % (sys.argv[1], lib), "wb").write(b)
PY
for lib in earliest latest; do
    "$sv" import-keras "$tmp/$lib.h5" --task realbogus -o "$tmp/m.fits" >/dev/null 2>"$tmp/err" &&
        fail "$lib.h5 imported as a Keras model"
    ! grep -q "damaged HDF5" "$tmp/err" || { cat "$tmp/err"; fail "$lib.h5: a false alarm"; }
    "$sv" import-keras "$tmp/${lib}_bad.h5" --task realbogus -o "$tmp/m.fits" >/dev/null 2>"$tmp/err" &&
        fail "${lib}_bad.h5 imported"
    grep -q "${lib}_bad.h5: damaged HDF5 object header at byte" "$tmp/err" ||
        { cat "$tmp/err"; fail "${lib}_bad.h5 not refused as a damaged object header"; }
    echo "$lib: $(head -c 120 "$tmp/err")"
done
echo ok

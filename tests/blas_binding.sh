#!/bin/sh
# blas_binding.sh — the stampvet binary's cblas_sgemm (the reference engine's
# products) binds to OpenBLAS, not to GSL's reference CBLAS that GSL's
# pkg-config also links (link order, Makefile.am DEPS_LIBS).  Uses glibc's
# LD_DEBUG=bindings; skipped (exit 77) where the loader does not report.
SV="$SV_BUILDDIR/stampvet"
out=$(LD_BIND_NOW=1 LD_DEBUG=bindings "$SV" --version 2>&1 >/dev/null | grep "binding file .*stampvet.* normal symbol \`cblas_sgemm'")
if [ -z "$out" ]; then
    echo "SKIP: the dynamic loader reports no binding of cblas_sgemm (not glibc, or static BLAS)"
    exit 77
fi
echo "$out"
case "$out" in
*libopenblas*) echo "ok: cblas_sgemm from OpenBLAS"; exit 0 ;;
*) echo "FAIL: cblas_sgemm does not bind to OpenBLAS"; exit 1 ;;
esac

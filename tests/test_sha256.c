/* test_sha256.c — SHA-256 (sha256.h) against the FIPS 180-4 / NIST example
 * vectors, incremental updates across block boundaries, and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"

static void test_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmn"
         "opqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[SV_SHA256_HEX];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        sv_sha256_hex(v[i].msg, strlen(v[i].msg), hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* One million 'a': fed in pieces of awkward sizes. */
static void test_million_a_incremental(void **state)
{
    (void)state;
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    sv_sha256 c;
    sv_sha256_init(&c);
    size_t left = 1000000;
    size_t step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        if (n > sizeof chunk)
            n = sizeof chunk;
        sv_sha256_update(&c, chunk, n);
        left -= n;
        step = step * 7 % 1000 + 1;
    }
    uint8_t d[SV_SHA256_DIGEST];
    sv_sha256_final(&c, d);
    static const uint8_t want[SV_SHA256_DIGEST] = {
        0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e,
        0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11,
        0x2c, 0xd0};
    assert_memory_equal(d, want, sizeof want);
}

/* Lengths around the padding boundary (55, 56, 63, 64, 65 bytes): the
 * one-shot and the byte-at-a-time digests agree. */
static void test_padding_boundaries(void **state)
{
    (void)state;
    unsigned char buf[130];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 50; len <= 130; len++) {
        char a[SV_SHA256_HEX], b[SV_SHA256_HEX];
        sv_sha256_hex(buf, len, a);
        sv_sha256 c;
        uint8_t d[SV_SHA256_DIGEST];
        sv_sha256_init(&c);
        for (size_t i = 0; i < len; i++)
            sv_sha256_update(&c, buf + i, 1);
        sv_sha256_final(&c, d);
        for (int i = 0; i < SV_SHA256_DIGEST; i++)
            snprintf(b + 2 * i, 3, "%02x", d[i]);
        assert_string_equal(a, b);
    }
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sv-sha256-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    char hex[SV_SHA256_HEX];
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_sha256_file(path, hex, &err), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink(path);
    assert_int_equal(sv_sha256_file(path, hex, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a_incremental),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

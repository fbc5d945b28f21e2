/* test_stage_config_file.c — the key = value configuration file: syntax,
 * comments, quotes, SExtractor-style lines, unknown keys and bad values as
 * FILE:LINE errors, repeats, overrides, and the --dump-config round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dia_host.h"
#include "pipeline/stage_config_file.h"
#include "pipeline/stage_params.h"
#include "pipeline/stage_plugin.h"

static char path[64];

static void write_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/sv_test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs(text, fp);
    fclose(fp);
}

static int read_expect(const char *text, sv_kvlist *kv, sv_error *err)
{
    write_file(text);
    sv_error_clear(err);
    int st = sv_config_file_read(path, kv, err);
    unlink(path);
    return st;
}

static void test_syntax(void **state)
{
    sv_kvlist kv = {0};
    sv_error err;
    assert_int_equal(read_expect("# a stampvet configuration\n"
                                 "\n"
                                 "rb_model = /models/rb.fits   # the model\n"
                                 "PRESET     sextractor          # SExtractor style\n"
                                 "col_id =\n"
                                 "rb_column = \"rb # sv\"\n"
                                 "  threads\t=\t2\r\n"
                                 "rb_threshold=0.7\n",
                                 &kv, &err),
                     0);
    assert_int_equal(kv.n, 6);
    assert_string_equal(sv_kvlist_get(&kv, "rb_model"), "/models/rb.fits");
    assert_string_equal(sv_kvlist_get(&kv, "preset"), "sextractor");
    assert_string_equal(sv_kvlist_get(&kv, "col_id"), "");
    assert_string_equal(sv_kvlist_get(&kv, "rb_column"), "rb # sv");
    assert_string_equal(sv_kvlist_get(&kv, "threads"), "2");
    assert_string_equal(sv_kvlist_get(&kv, "rb_threshold"), "0.7");
    assert_non_null(strstr(kv.origin[1], ":4"));
    /* overrides replace */
    assert_int_equal(sv_kvlist_set_text(&kv, "threads = 4", "--set", &err), 0);
    assert_string_equal(sv_kvlist_get(&kv, "threads"), "4");
    assert_int_equal(kv.n, 6);
    /* the list is a valid stage configuration */
    sv_stage_config cfg;
    assert_int_equal(sv_stage_config_parse(kv.kv, kv.n, &cfg, &err), 0);
    assert_int_equal(cfg.threads, 4);
    assert_string_equal(cfg.preset, "sextractor");
    sv_kvlist_free(&kv);
}

static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    sv_kvlist kv = {0};
    sv_error err;
    assert_int_equal(read_expect(text, &kv, &err), SV_ERR_ARG);
    if (!strstr(err.text, needle1) || (needle2 && !strstr(err.text, needle2)))
        fail_msg("'%s' does not mention '%s' / '%s'", err.text, needle1,
                 needle2 ? needle2 : "");
    assert_non_null(strstr(err.text, path));
    sv_kvlist_free(&kv);
}

static void test_errors(void **state)
{
    expect_error("threads = 2\n# fine\ntreshold = 0.5\n", ":3:", "'treshold'");
    expect_error("threads = zero\n", ":1:", "threads");
    expect_error("threads = 100000\n", ":1:", "outside");
    expect_error("preset = hst\n", ":1:", "ztf|sextractor|lsst|generic");
    expect_error("batch = 8\nbatch = 16\n", ":2:", "first at line 1");
    expect_error("rb_column = \"open\n", ":1:", "quote");
    expect_error("= 3\n", ":1:", "parameter name");
    expect_error("rb_column = \"a\" b\n", ":1:", "after the closing quote");
    sv_kvlist kv = {0};
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_config_file_read("/nonexistent/stampvet.conf", &kv, &err), SV_ERR_IO);
    assert_non_null(strstr(err.text, "/nonexistent/stampvet.conf"));
    assert_int_equal(sv_kvlist_set_text(&kv, "no_equals_sign", "--set", &err), SV_ERR_ARG);
    assert_int_equal(sv_kvlist_set_text(&kv, "nope=1", "--set", &err), SV_ERR_ARG);
    assert_non_null(strstr(err.text, "--set"));
    sv_kvlist_free(&kv);
}

/* What --dump-config prints is itself a valid configuration file that sets
 * every parameter to its default. */
static void test_dump_config_round_trip(void **state)
{
    snprintf(path, sizeof path, "/tmp/sv_test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    dia_host_print_params(fp, sv_stage_descriptor(), 1);
    fclose(fp);
    sv_kvlist kv = {0};
    sv_error err;
    sv_error_clear(&err);
    int st = sv_config_file_read(path, &kv, &err);
    if (st)
        fail_msg("%s", err.text);
    unlink(path);
    assert_int_equal((int)kv.n, sv_stage_n_params);
    for (int i = 0; i < sv_stage_n_params; i++)
        assert_string_equal(sv_kvlist_get(&kv, sv_stage_params[i].key),
                            sv_stage_params[i].default_value);
    sv_stage_config a, b;
    assert_int_equal(sv_stage_config_parse(kv.kv, kv.n, &a, &err), 0);
    assert_int_equal(sv_stage_config_parse(NULL, 0, &b, &err), 0);
    /* the same values; only the record of what was given (SVCONFIG) differs */
    assert_string_equal(b.config_text, "");
    assert_non_null(strstr(a.config_text, "rb_threshold=0.5"));
    memset(a.config_text, 0, sizeof a.config_text);
    assert_memory_equal(&a, &b, sizeof a);
    sv_kvlist_free(&kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_dump_config_round_trip),
    };
    return cmocka_run_group_tests_name("stage_config_file", tests, NULL, NULL);
}

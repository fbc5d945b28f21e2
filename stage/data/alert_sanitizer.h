/* alert_sanitizer.h — what AddressSanitizer must know about libavro, for
 * the programs that read alert packets (include it in exactly one file of
 * a program: it defines the sanitizers' hook functions).
 *
 * libavro 1.11 (Debian) allocates a length read from damaged data before
 * checking it against the data (read_bytes: malloc(len + 1) for any len,
 * negative ones too) and leaks on its error paths (the reader of a
 * container whose header or first block is damaged, a bytes value cut
 * short).  Outside the sanitizers malloc fails, libavro reports ENOMEM
 * and the alert is flagged; under them the allocation must fail the same
 * way (allocator_may_return_null) and those leaks, which are libavro's,
 * are not counted.  Debian's libavro is stripped of its static
 * functions' names, so most of those leaks show only "libavro.so+0x..."
 * frames and are suppressed by the module (the last line below); leaks of
 * the reader's good paths stay checked by the programs that do not include
 * this header (`stampvet score --alerts` on the real packets in
 * tests/alert_score.sh, under the sanitizers in CI) and valgrind on the
 * real packets shows none. */
#ifndef SV_ALERT_SANITIZER_H
#define SV_ALERT_SANITIZER_H

/* gcc says __SANITIZE_ADDRESS__, clang (before 15) only __has_feature */
#if defined(__SANITIZE_ADDRESS__)
#define SV_ALERT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SV_ALERT_ASAN 1
#endif
#endif

#ifdef SV_ALERT_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:avro_file_reader_fp\n"
           "leak:avro_file_reader_read_value\n"
           "leak:avro_value_read\n"
           "leak:libavro.so\n";
}
#endif

#endif

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
 * are not counted.  Leaks of the reader's own good paths are checked
 * (valgrind on the real packets shows none). */
#ifndef SV_ALERT_SANITIZER_H
#define SV_ALERT_SANITIZER_H

/* libavro has no frame pointers: the sanitizers' fast unwinder stops in
 * it, before the names below.  A program that feeds libavro damaged data
 * on purpose (tests/test_alert_packet) defines SV_ALERT_SANITIZER_FULL_STACKS
 * before including this file, for full (slower) stacks on every malloc. */
#ifdef SV_ALERT_SANITIZER_FULL_STACKS
#define SV_ALERT_ASAN_STACKS ":fast_unwind_on_malloc=0"
#else
#define SV_ALERT_ASAN_STACKS ""
#endif

#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1" SV_ALERT_ASAN_STACKS;
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:avro_file_reader_fp\n"
           "leak:avro_file_reader_read_value\n"
           "leak:record_read\n"; /* alert_packet.c: every avro_value_read */
}
#endif

#endif

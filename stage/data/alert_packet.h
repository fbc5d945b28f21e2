/* alert_packet.h — survey alert packets (Apache Avro) read into per-alert
 * records: identifiers, the candidate's fields, the three cutouts decoded
 * to float images with their FITS headers, the detection history, and a
 * per-alert flag and message.
 *
 * What is read
 * ------------
 * Avro object container files ("Obj\1" + schema + blocks; codecs null,
 * deflate and snappy as Debian's libavro builds them, lzma when the library
 * has it), one or many alerts each, as brokers archive them, from a file
 * or from a buffer in memory. The container's framing (header, blocks,
 * sync markers: the Avro specification's "Object Container Files") is read
 * here for the codecs null and deflate (zlib), so that a reader parses each
 * writer schema once (below); libavro parses the schemas and decodes every
 * record, and reads the other codecs' files whole (avro_file_reader).  The schema is the one the file carries; the
 * fields are found by name, so any schema version with these names reads:
 *
 *   ZTF (alert schema 3.x, a record with `candidate`):
 *     candid (long), objectId (string), schemavsn, candidate { jd, fid,
 *     ra, dec, xpos, ypos, drb, drbversion, ... }, prv_candidates (array
 *     or null), cutoutScience / cutoutTemplate / cutoutDifference
 *     { fileName, stampData: gzipped FITS } (or null).
 *   LSST / Rubin (alert schema 7.x-9.x, a record with `diaSource`; also
 *     the flattened records Fink re-publishes): diaSourceId, diaSource
 *     { diaSourceId, diaObjectId, midpointMjdTai, band, ra, dec, x, y,
 *     reliability, ... }, prvDiaSources (array or null), cutoutScience /
 *     cutoutTemplate / cutoutDifference: FITS bytes (or null).
 *
 * Schemaless messages (Avro binary without the container, as Kafka
 * carries them, optionally with the Confluent wire-format prefix: byte 0,
 * then a 4-byte big-endian schema id) have no schema of their own: a
 * reader made with the writer's schema (sv_alert_reader_new's schema_path,
 * an .avsc JSON file) decodes them, one message per buffer or file.
 * Without one, such input is an error that says what it is.
 *
 * Cutouts are decoded in memory: gzipped bytes are inflated (zlib), then
 * the FITS image is read with cfitsio (fits_open_memfile) exactly as
 * score.h's sv_stamp_read reads a stamp file: as stored (no flip), NaN
 * for blank pixels, the primary HDU or the first image HDU with data.
 *
 * Errors and flags
 * ----------------
 * A function returns a status (sv_error.h) only when it cannot read the
 * input as a whole: the file cannot be opened, it is not Avro, its header
 * or schema is damaged, its codec is not supported (the message names
 * the codec), or it is schemaless and the reader has no schema.  Every
 * problem inside the input is a flagged alert instead, with a message
 * naming the source and the record (0-based):
 *   SV_ALERT_UNDECODABLE  the record (and, in a container file, the rest
 *                         of the file from it: a damaged block cannot be
 *                         skipped) could not be decoded; one alert stands
 *                         for what was lost, id unknown;
 *   SV_ALERT_NO_CUTOUT    a cutout is null or empty;
 *   SV_ALERT_BAD_CUTOUT   a cutout is not a readable 2-D FITS image (bad
 *                         gzip, truncated, not an image, absurd size), or
 *                         the three differ in size;
 *   SV_ALERT_NO_ID        no candid / diaSourceId;
 *   SV_ALERT_NO_SURVEY    neither a ZTF nor an LSST alert record.
 * Nothing is dropped: every record read, and every record lost, is an
 * element of the set.
 *
 * Thread safety: libavro keeps its error text in a process-global buffer,
 * so the Avro decoding of all readers is serialised by one mutex inside
 * this module; cutouts are decoded outside it.  A reader is used by one
 * thread at a time; distinct readers may be used from different threads.
 * A set, once read, is read-only and may be shared.
 */
#ifndef SV_ALERT_PACKET_H
#define SV_ALERT_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sv_alert_survey {
    SV_ALERT_SURVEY_UNKNOWN = 0,
    SV_ALERT_SURVEY_ZTF = 1,
    SV_ALERT_SURVEY_LSST = 2
} sv_alert_survey;

/* Per-alert flags (sv_alert.flags). */
#define SV_ALERT_UNDECODABLE 0x01u
#define SV_ALERT_NO_CUTOUT   0x02u
#define SV_ALERT_BAD_CUTOUT  0x04u
#define SV_ALERT_NO_ID       0x08u
#define SV_ALERT_NO_SURVEY   0x10u
#define SV_ALERT_N_FLAGS 5

/* The flag bits in order, their names ("UNDECODABLE", "NOCUTOUT",
 * "BADCUTOUT", "NOID", "NOSURVEY") and one-line meanings. */
typedef struct sv_alert_flag_doc {
    uint32_t bit;
    const char *name;
    const char *meaning;
} sv_alert_flag_doc;
extern const sv_alert_flag_doc sv_alert_flag_docs[SV_ALERT_N_FLAGS];

/* One scalar field of a record, as the packet has it. */
typedef enum sv_alert_field_type {
    SV_AF_NULL = 0,    /* null (a union's null branch)                      */
    SV_AF_INT = 1,     /* int or long: i (and d = i)                        */
    SV_AF_REAL = 2,    /* float or double: d                                */
    SV_AF_STRING = 3,  /* string or enum symbol: s                          */
    SV_AF_BOOL = 4     /* boolean: i = 0 or 1 (and d = i)                   */
} sv_alert_field_type;

typedef struct sv_alert_field {
    const char *name;
    sv_alert_field_type type;
    int64_t i;
    double d;          /* NaN for NULL and STRING                           */
    const char *s;     /* NULL unless STRING                                */
} sv_alert_field;

/* The scalar fields of one record, in schema order (nested records,
 * arrays, maps and bytes are left out). */
typedef struct sv_alert_fields {
    int n;
    sv_alert_field *f;
} sv_alert_fields;

/* One cutout, decoded. */
typedef struct sv_alert_cutout {
    int present;       /* 1: the packet had bytes for it                    */
    float *pix;        /* h x w, row-major, NAXIS1 fastest; NULL when
                          missing or unreadable                             */
    int h, w;
    char *header;      /* the image HDU's header, n_cards 80-character
                          cards (no END), NUL-terminated; NULL with pix     */
    int n_cards;
    const char *file_name; /* ZTF's fileName, else NULL                     */
    const void *bytes; /* the bytes as stored in the packet (gzipped or not),
                          NULL when missing; owned by the set              */
    size_t n_bytes;
} sv_alert_cutout;

/* Cutout index = sv_channel (model.h): science, template, difference. */
enum { SV_ALERT_SCI = 0, SV_ALERT_TEMPLATE = 1, SV_ALERT_DIFF = 2 };

typedef struct sv_alert {
    sv_alert_survey survey;
    long record;           /* 0-based record index in its source            */
    int has_id;
    int64_t id;            /* ZTF candid, LSST diaSourceId                  */
    char object_id[32];    /* ZTF objectId, LSST diaObjectId as decimal ("") */
    char schema_version[16]; /* ZTF schemavsn, LSST lsst_schema_version ("") */
    double mjd;            /* ZTF jd - 2400000.5, LSST midpointMjdTai (NaN) */
    char band[8];          /* ZTF fid 1,2,3 -> g,r,i; LSST band ("")       */
    double ra, dec;        /* degrees (NaN)                                 */
    double x, y;           /* ZTF xpos/ypos, LSST x/y (NaN)                 */
    double survey_score;   /* ZTF drb, LSST reliability (NaN when absent)   */
    char survey_score_version[32]; /* ZTF drbversion ("")                   */
    sv_alert_fields candidate;     /* ZTF candidate, LSST diaSource         */
    int n_history;                 /* ZTF prv_candidates, LSST prvDiaSources */
    sv_alert_fields *history;      /* n_history records, as in the packet   */
    sv_alert_cutout cutout[3];     /* SV_ALERT_SCI, _TEMPLATE, _DIFF        */
    uint32_t flags;                /* SV_ALERT_*                            */
    char error[256];               /* why flagged: names source and record  */
} sv_alert;

/* The alerts of one file or buffer. */
typedef struct sv_alert_set {
    long n;
    sv_alert *alerts;
    char source[512];      /* the file name or the buffer's name            */
    char codec[16];        /* container codec ("null", "deflate", "snappy",
                              ...), or "none" for a schemaless message     */
    char schema_name[128]; /* the writer schema's record name               */
    void *arena_;          /* owned storage (strings, fields)               */
} sv_alert_set;

typedef struct sv_alert_reader sv_alert_reader;

/* A reader.  schema_path: NULL, or an Avro schema (.avsc JSON) to decode
 * schemaless messages with.  Returns 0 with *out set, or a status with err
 * naming the schema file.  Not thread-safe with itself; see above.
 * A reader keeps the writer schemas of the container files it has read,
 * parsed, by their text (up to 8 distinct texts, the oldest dropped
 * first): the files of one survey share one schema (tens of kilobytes of
 * JSON), parsed once for all of them.  Use one reader for a stream. */
int sv_alert_reader_new(const char *schema_path, sv_alert_reader **out, sv_error *err);
void sv_alert_reader_free(sv_alert_reader *r);

/* 1 if libavro reads container files with this codec ("null", "deflate",
 * "snappy", "lzma"), else 0. */
int sv_alert_codec_supported(const char *codec);

/* Read every alert of the file at path (a container file, or with a
 * reader schema one schemaless message).  Fills *set (free it with
 * sv_alert_set_free, also after a failure).  Returns 0 (the set may hold
 * flagged alerts) or a status with err naming the file and the problem
 * (see above). */
int sv_alert_read_file(sv_alert_reader *r, const char *path, sv_alert_set *set, sv_error *err);

/* The same from len bytes at buf (one Kafka message, or a container
 * file's bytes); name names them in messages and set->source.  The
 * buffer is not kept. */
int sv_alert_read_buffer(sv_alert_reader *r, const void *buf, size_t len, const char *name,
                         sv_alert_set *set, sv_error *err);

/* Free what a set owns; it is left empty.  NULL or zeroed sets are fine. */
void sv_alert_set_free(sv_alert_set *set);

/* The field called name in f (exact match), or NULL. */
const sv_alert_field *sv_alert_field_find(const sv_alert_fields *f, const char *name);

/* The field's value as a double: NaN when absent, null or a string. */
double sv_alert_field_real(const sv_alert_fields *f, const char *name);

#ifdef __cplusplus
}
#endif
#endif

/* csv.h — splitting one CSV line (RFC 4180 quoting: "a ""b""" is a "b";
 * no line breaks inside fields), for the batch's manifest and summary
 * readers and the CSV/ECSV detection tables (det_text.h).
 *
 * Thread safety: reentrant. */
#ifndef SV_CSV_H
#define SV_CSV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_csv_field {
    char *text;  /* the field, unquoted, NUL-terminated, inside the line */
    int quoted;  /* 1 when the field was quoted                          */
} sv_csv_field;

/* Split `line` (without its line end) in place into at most max fields.
 * With `blanks` set, blanks around a field and around its quotes are not
 * part of it; else every character between the commas is.  Returns the
 * number of fields, or -1 with why (cap bytes) saying what is wrong: more
 * than max fields, an unterminated quote, text after a closing quote. */
int sv_csv_split(char *line, sv_csv_field *f, int max, int blanks, char *why, size_t cap);

/* As sv_csv_split, with the fields separated by runs of blanks (spaces,
 * tabs) instead of commas: ECSV's default delimiter.  Blanks at the start
 * and end of the line separate nothing; a quoted field ("a b", "say
 * ""hi""") may hold blanks and must be followed by a blank or the end.
 * Returns the number of fields (0 for a blank line), or -1 with why. */
int sv_csv_split_blanks(char *line, sv_csv_field *f, int max, char *why, size_t cap);

/* s without its leading and trailing white space (isspace): trailing
 * space is cut off in place. */
char *sv_csv_trim(char *s);

#ifdef __cplusplus
}
#endif
#endif

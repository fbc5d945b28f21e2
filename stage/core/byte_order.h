/* byte_order.h — big-endian (FITS) byte order of binary-table cells, for
 * the code that fills or reads raw table rows (cfitsio's fits_write_tblbytes
 * / fits_read_tblbytes): stamp_table.c, sim_exposure.c.  Header only;
 * reentrant. */
#ifndef SV_BYTE_ORDER_H
#define SV_BYTE_ORDER_H

#include <stdint.h>
#include <string.h>

static inline void sv_be_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void sv_be_put_u64(unsigned char *p, uint64_t v)
{
    sv_be_put_u32(p, (uint32_t)(v >> 32));
    sv_be_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t sv_be_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sv_be_get_u64(const unsigned char *p)
{
    return (uint64_t)sv_be_get_u32(p) << 32 | sv_be_get_u32(p + 4);
}

static inline void sv_be_put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    sv_be_put_u32(p, u);
}

static inline void sv_be_put_f64(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    sv_be_put_u64(p, u);
}

static inline float sv_be_get_f32(const unsigned char *p)
{
    uint32_t u = sv_be_get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double sv_be_get_f64(const unsigned char *p)
{
    uint64_t u = sv_be_get_u64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#endif

/* STRIDED_SLICE: gather with precomputed offsets; contiguous rows are block copies. */
#include <string.h>

#include "pb_slice.h"

/* Copy n elements of es bytes, reading every `step` elements (step != 1). */
static uint8_t *pb_slice_gather(uint8_t *dst, const uint8_t *src, int32_t n, int32_t step, int32_t es)
{
    int32_t i;
    const ptrdiff_t jump = (ptrdiff_t)step * es;
    switch (es) {
    case 1:
        for (i = 0; i < n; ++i, src += jump) {
            *dst++ = *src;
        }
        break;
    case 2:
        for (i = 0; i < n; ++i, src += jump, dst += 2) {
            *(int16_t *)(void *)dst = *(const int16_t *)(const void *)src;
        }
        break;
    case 4:
        for (i = 0; i < n; ++i, src += jump, dst += 4) {
            *(int32_t *)(void *)dst = *(const int32_t *)(const void *)src;
        }
        break;
    default:
        for (i = 0; i < n; ++i, src += jump, dst += es) {
            memcpy(dst, src, (size_t)es);
        }
        break;
    }
    return dst;
}

void pb_strided_slice(const pb_slice_params_t *p, const void *input, void *output)
{
    const int32_t es = p->elem_size;
    const uint8_t *in = (const uint8_t *)input + (ptrdiff_t)p->base * es;
    uint8_t *out = (uint8_t *)output;
    int32_t i0, i1, i2, i3;
    const size_t row_bytes = (size_t)p->count[4] * (size_t)es;

    for (i0 = 0; i0 < p->count[0]; ++i0) {
        const uint8_t *s0 = in + (ptrdiff_t)i0 * p->step[0] * es;
        for (i1 = 0; i1 < p->count[1]; ++i1) {
            const uint8_t *s1 = s0 + (ptrdiff_t)i1 * p->step[1] * es;
            for (i2 = 0; i2 < p->count[2]; ++i2) {
                const uint8_t *s2 = s1 + (ptrdiff_t)i2 * p->step[2] * es;
                for (i3 = 0; i3 < p->count[3]; ++i3) {
                    const uint8_t *s3 = s2 + (ptrdiff_t)i3 * p->step[3] * es;
                    if (p->step[4] == 1) {
                        memcpy(out, s3, row_bytes);
                        out += row_bytes;
                    } else {
                        out = pb_slice_gather(out, s3, p->count[4], p->step[4], es);
                    }
                }
            }
        }
    }
}

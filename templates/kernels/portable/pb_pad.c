/* PAD / PADV2: write the output row by row, in order; each row of the innermost
 * dimension is either all padding or left padding, one input row, right padding. */
#include <string.h>

#include "pb_pad.h"

static uint8_t *pb_pad_fill(uint8_t *dst, int32_t count, int32_t elem_size, int32_t value)
{
    int32_t i;
    if (elem_size == 1) {
        memset(dst, (int)(uint8_t)value, (size_t)count);
    } else if (elem_size == 2) {
        int16_t *d = (int16_t *)(void *)dst;
        for (i = 0; i < count; ++i) {
            d[i] = (int16_t)value;
        }
    } else {
        int32_t *d = (int32_t *)(void *)dst;
        for (i = 0; i < count; ++i) {
            d[i] = value;
        }
    }
    return dst + (size_t)count * (size_t)elem_size;
}

void pb_pad(const pb_pad_params_t *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const int32_t es = p->elem_size;
    int32_t out_dims[5];
    int32_t idx[4];
    int32_t k;
    const int32_t row_in = p->in_dims[4];
    const int32_t row_out = p->left[4] + row_in + p->right[4];

    for (k = 0; k < 5; ++k) {
        out_dims[k] = p->left[k] + p->in_dims[k] + p->right[k];
    }
    for (idx[0] = 0; idx[0] < out_dims[0]; ++idx[0]) {
        for (idx[1] = 0; idx[1] < out_dims[1]; ++idx[1]) {
            for (idx[2] = 0; idx[2] < out_dims[2]; ++idx[2]) {
                for (idx[3] = 0; idx[3] < out_dims[3]; ++idx[3]) {
                    int inside = 1;
                    for (k = 0; k < 4; ++k) {
                        if (idx[k] < p->left[k] || idx[k] >= p->left[k] + p->in_dims[k]) {
                            inside = 0;
                        }
                    }
                    if (!inside) {
                        out = pb_pad_fill(out, row_out, es, p->pad_value);
                        continue;
                    }
                    out = pb_pad_fill(out, p->left[4], es, p->pad_value);
                    memcpy(out, in, (size_t)row_in * (size_t)es);
                    out += (size_t)row_in * (size_t)es;
                    in += (size_t)row_in * (size_t)es;
                    out = pb_pad_fill(out, p->right[4], es, p->pad_value);
                }
            }
        }
    }
}

/* Data movement: boxes of strided element copies, a runtime-placed box, and row gathers. */
#include <string.h>

#include "pb_move.h"

static const uint8_t *pb_move_buffer(const void *const *inputs, void *const *outputs, const void *data, int32_t id)
{
    if (id >= 0) {
        return (const uint8_t *)inputs[id];
    }
    if (id == PB_MOVE_CONST) {
        return (const uint8_t *)data;
    }
    return (const uint8_t *)outputs[-2 - id];
}

/* n elements of es bytes, src and dst advancing ss and ds elements at a time. */
static void pb_move_run(uint8_t *dst, const uint8_t *src, int32_t n, int32_t ss, int32_t ds, int32_t es)
{
    int32_t i;
    const ptrdiff_t sj = (ptrdiff_t)ss * es, dj = (ptrdiff_t)ds * es;
    if (ss == 1 && ds == 1) {
        memcpy(dst, src, (size_t)n * (size_t)es);
        return;
    }
    switch (es) {
    case 1:
        for (i = 0; i < n; ++i, src += sj, dst += dj) {
            *dst = *src;
        }
        break;
    case 2:
        for (i = 0; i < n; ++i, src += sj, dst += dj) {
            *(int16_t *)(void *)dst = *(const int16_t *)(const void *)src;
        }
        break;
    case 4:
        for (i = 0; i < n; ++i, src += sj, dst += dj) {
            *(int32_t *)(void *)dst = *(const int32_t *)(const void *)src;
        }
        break;
    default:
        for (i = 0; i < n; ++i, src += sj, dst += dj) {
            memcpy(dst, src, (size_t)es);
        }
        break;
    }
}

/* One box (see pb_move.h), its destination moved by `shift` elements. */
static void pb_move_box(const int32_t *box, uint8_t *dst, const uint8_t *src, int32_t es, int32_t shift)
{
    const int32_t *count = box + 4, *ss = count + PB_MOVE_DIMS, *ds = ss + PB_MOVE_DIMS;
    int32_t at[PB_MOVE_DIMS - 1] = {0};
    int32_t rows = 1, r, k;
    for (k = 0; k < PB_MOVE_DIMS; ++k) {
        rows *= count[k];
    }
    if (rows == 0) {
        return;
    }
    rows /= count[PB_MOVE_DIMS - 1];
    src += (ptrdiff_t)box[2] * es;
    dst += ((ptrdiff_t)box[3] + shift) * es;
    for (r = 0; r < rows; ++r) {
        pb_move_run(dst, src, count[PB_MOVE_DIMS - 1], ss[PB_MOVE_DIMS - 1], ds[PB_MOVE_DIMS - 1], es);
        /* Next row: count up the outer indices like an odometer. */
        for (k = PB_MOVE_DIMS - 2; k >= 0; --k) {
            src += (ptrdiff_t)ss[k] * es;
            dst += (ptrdiff_t)ds[k] * es;
            if (++at[k] < count[k]) {
                break;
            }
            src -= (ptrdiff_t)count[k] * ss[k] * es;
            dst -= (ptrdiff_t)count[k] * ds[k] * es;
            at[k] = 0;
        }
    }
}

static void pb_move_boxes(const pb_move_params_t *p, const void *const *inputs, void *const *outputs,
                          int32_t first, int32_t last, int32_t shift)
{
    int32_t b;
    for (b = first; b < last; ++b) {
        const int32_t *box = p->boxes + (ptrdiff_t)b * PB_MOVE_BOX;
        const uint8_t *src = pb_move_buffer(inputs, outputs, p->data, box[0]);
        uint8_t *dst = (uint8_t *)outputs[-2 - box[1]];
        pb_move_box(box, dst, src, p->elem_size, shift);
    }
}

void pb_move(const pb_move_params_t *p, const void *const *inputs, void *const *outputs)
{
    pb_move_boxes(p, inputs, outputs, 0, p->n_boxes, 0);
}

void pb_move_const(const pb_move_params_t *p, void *const *outputs)
{
    pb_move_boxes(p, NULL, outputs, 0, p->n_boxes, 0);
}

void pb_update_slice(const pb_update_slice_params_t *p, const void *const *inputs, void *const *outputs)
{
    const uint8_t *index = (const uint8_t *)inputs[p->index];
    int32_t shift = 0, k;
    for (k = 0; k < p->rank; ++k) {
        int64_t v;
        if (p->index_size == 8) {
            memcpy(&v, index + (ptrdiff_t)k * 8, 8);
        } else {
            int32_t v32;
            memcpy(&v32, index + (ptrdiff_t)k * 4, 4);
            v = v32;
        }
        v = v < 0 ? 0 : v;
        v = v > p->limit[k] ? p->limit[k] : v;
        shift += (int32_t)v * p->stride[k];
    }
    pb_move_boxes(&p->move, inputs, outputs, 0, p->move.n_boxes - 1, 0);
    pb_move_boxes(&p->move, inputs, outputs, p->move.n_boxes - 1, p->move.n_boxes, shift);
}

void pb_gather(const pb_gather_params_t *p, const void *const *inputs, void *output)
{
    const uint8_t *table = pb_move_buffer(inputs, NULL, p->table_data, p->table);
    const int32_t *index = p->index == PB_MOVE_CONST ? p->index_data : (const int32_t *)inputs[p->index];
    const int32_t es = p->elem_size;
    const int32_t out_es = p->scale != 0.0f ? 4 : es;
    const size_t row_bytes = (size_t)p->inner * (size_t)out_es;
    uint8_t *out = (uint8_t *)output;
    int32_t b, o, c, j, i;
    for (b = 0; b < p->batches; ++b) {
        for (o = 0; o < p->outer; ++o) {
            const uint8_t *base = table + ((ptrdiff_t)b * p->outer + o) * p->block * es;
            const int32_t *ix = index + (ptrdiff_t)b * p->coords * p->nd;
            for (c = 0; c < p->coords; ++c, ix += p->nd, out += row_bytes) {
                int64_t pos = 0;
                for (j = 0; j < p->nd; ++j) {
                    pos += (int64_t)ix[j] * p->stride[j];
                }
                if (pos < 0 || pos > (int64_t)p->block - p->inner) {
                    memset(out, 0, row_bytes);
                } else if (p->scale != 0.0f) {
                    const int8_t *q = (const int8_t *)(const void *)(base + (ptrdiff_t)pos);
                    float *f = (float *)(void *)out;
                    for (i = 0; i < p->inner; ++i) {
                        f[i] = (float)q[i] * p->scale;
                    }
                } else {
                    memcpy(out, base + (ptrdiff_t)pos * es, row_bytes);
                }
            }
        }
    }
}

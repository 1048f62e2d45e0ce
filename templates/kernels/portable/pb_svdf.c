/* SVDF, integer (see pb_svdf.h), as TFLite Micro computes it. Sums wrap in 32 bits like the
 * int32 accumulators they stand for. */
#include "pb_svdf.h"

#include <string.h>

/* Each filter's feature dot product of one batch, requantized and clamped to the state type. */
static int32_t pb_svdf_feature(const pb_svdf_params_t *p, const int8_t *x, int32_t f)
{
    const int8_t *w = p->w_feature + f * p->input_size;
    uint32_t acc = (uint32_t)p->feature_bias[f];
    int32_t k;
    for (k = 0; k < p->input_size; ++k) {
        acc += (uint32_t)(w[k] * x[k]);
    }
    return PB_CLAMP(pb_mul_by_quantized_mult((int32_t)acc, p->feature_mult, p->feature_shift), p->state_min,
                    p->state_max);
}

static int8_t pb_svdf_output(const pb_svdf_params_t *p, uint32_t acc)
{
    const int32_t v = pb_mul_by_quantized_mult((int32_t)acc, p->output_mult, p->output_shift) + p->output_zp;
    return (int8_t)PB_CLAMP(v, -128, 127);
}

void pb_svdf_s8(const pb_svdf_params_t *p, const int8_t *input, const int8_t *state, int8_t *output)
{
    int8_t *s = (int8_t *)state;
    const int32_t per_batch = p->filters * p->memory;
    int32_t b, f, u, j;
    memmove(s, s + 1, (size_t)(p->batches * per_batch - 1));
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->input_size;
        int8_t *sb = s + b * per_batch;
        for (f = 0; f < p->filters; ++f) {
            /* the zero point is added after the clamp: the sum may wrap in the int8 store */
            sb[f * p->memory + p->memory - 1] = (int8_t)(p->state_zp + pb_svdf_feature(p, x, f));
        }
        for (u = 0; u < p->units; ++u) {
            const int32_t first = u * p->rank * p->memory, n = p->rank * p->memory;
            uint32_t acc = (uint32_t)p->unit_bias[u];
            for (j = 0; j < n; ++j) {
                acc += (uint32_t)(p->w_time[first + j] * sb[first + j]);
            }
            output[b * p->units + u] = pb_svdf_output(p, acc);
        }
    }
}

void pb_svdf_s8_s16(const pb_svdf_params_t *p, const int8_t *input, const int16_t *state, int8_t *output)
{
    int16_t *s = (int16_t *)state;
    const int32_t per_batch = p->filters * p->memory;
    int32_t b, f, u, j;
    memmove(s, s + 1, (size_t)(p->batches * per_batch - 1) * sizeof(int16_t));
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->input_size;
        int16_t *sb = s + b * per_batch;
        for (f = 0; f < p->filters; ++f) {
            sb[f * p->memory + p->memory - 1] = (int16_t)(p->state_zp + pb_svdf_feature(p, x, f));
        }
        for (u = 0; u < p->units; ++u) {
            const int32_t first = u * p->rank * p->memory, n = p->rank * p->memory;
            uint32_t acc = (uint32_t)p->unit_bias[u];
            for (j = 0; j < n; ++j) {
                acc += (uint32_t)((int32_t)p->w_time16[first + j] * sb[first + j]);
            }
            output[b * p->units + u] = pb_svdf_output(p, acc);
        }
    }
}

/* CUMSUM along one axis, int8 and float. */
#include "pb_cumsum.h"

/* Element k of the walk along depth: from the end when reversed. */
static inline int32_t pb_cumsum_at(const pb_cumsum_params_t *p, int32_t k)
{
    return p->reverse ? p->depth - 1 - k : k;
}

void pb_cumsum_s8(const pb_cumsum_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t o, n, k;
    for (o = 0; o < p->outer; ++o) {
        const int32_t base = o * p->depth * p->inner;
        for (n = 0; n < p->inner; ++n) {
            int32_t acc = p->seed;
            for (k = 0; k < p->depth; ++k) {
                const int32_t i = base + pb_cumsum_at(p, k) * p->inner + n;
                const int32_t y = (input[i] + p->input_offset) * (1 << 20);
                const int32_t scaled = pb_mul_by_quantized_mult(y, p->input_mult, p->input_shift);
                const int32_t before = acc;
                int32_t r;
                acc += scaled;
                r = pb_mul_by_quantized_mult(p->exclusive ? before : acc, p->output_mult, p->output_shift);
                output[i] = (int8_t)PB_CLAMP(r + p->output_zp, -128, 127);
            }
        }
    }
}

void pb_cumsum_f32(const pb_cumsum_params_t *p, const float *input, float *output)
{
    int32_t o, n, k;
    for (o = 0; o < p->outer; ++o) {
        const int32_t base = o * p->depth * p->inner;
        for (n = 0; n < p->inner; ++n) {
            float acc = 0.0f;
            for (k = 0; k < p->depth; ++k) {
                const int32_t i = base + pb_cumsum_at(p, k) * p->inner + n;
                const float before = acc;
                acc = acc + input[i];
                output[i] = p->exclusive ? before : acc;
            }
        }
    }
}

/* MEAN over precomputed loop groups; integer and float variants. */
#include "pb_mean.h"

static int32_t pb_mean_requant(const pb_mean_params_t *p, int32_t sum, int32_t lo, int32_t hi)
{
    int32_t r;
    /* The zero-point correction is formed in 64 bits, then narrowed to 32. */
    r = (int32_t)((int64_t)sum - (int64_t)p->input_zp * p->count);
    r = pb_mul_by_quantized_mult(r, p->mult, p->shift) + p->output_zp;
    return PB_CLAMP(r, lo, hi);
}

#define PB_MEAN_LOOPS(IN_T, OUT_T, ACC_T, FINISH)                                              \
    do {                                                                                       \
        int32_t k0, k1, k2, r0, r1, r2;                                                        \
        OUT_T *out = output;                                                                   \
        for (k0 = 0; k0 < p->kept[0]; ++k0) {                                                  \
            for (k1 = 0; k1 < p->kept[1]; ++k1) {                                              \
                for (k2 = 0; k2 < p->kept[2]; ++k2) {                                          \
                    const IN_T *base = input + k0 * p->kept_stride[0] + k1 * p->kept_stride[1] \
                                       + k2 * p->kept_stride[2];                               \
                    ACC_T acc = 0;                                                             \
                    for (r0 = 0; r0 < p->red[0]; ++r0) {                                       \
                        for (r1 = 0; r1 < p->red[1]; ++r1) {                                   \
                            const IN_T *row = base + r0 * p->red_stride[0]                     \
                                              + r1 * p->red_stride[1];                         \
                            for (r2 = 0; r2 < p->red[2]; ++r2) {                               \
                                acc += row[r2 * p->red_stride[2]];                             \
                            }                                                                  \
                        }                                                                      \
                    }                                                                          \
                    *out++ = FINISH;                                                           \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    } while (0)

void pb_mean_s8(const pb_mean_params_t *p, const int8_t *input, int8_t *output)
{
    PB_MEAN_LOOPS(int8_t, int8_t, int32_t, (int8_t)pb_mean_requant(p, acc, -128, 127));
}

void pb_mean_s16(const pb_mean_params_t *p, const int16_t *input, int16_t *output)
{
    PB_MEAN_LOOPS(int16_t, int16_t, int32_t, (int16_t)pb_mean_requant(p, acc, -32768, 32767));
}

void pb_mean_f32(const pb_mean_params_t *p, const float *input, float *output)
{
    PB_MEAN_LOOPS(float, float, float, acc / (float)p->count);
}

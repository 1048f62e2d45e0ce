/* Generic reductions over precomputed loop groups: each output starts from INIT and folds
 * in its reduced elements in row-major order, `acc = STEP(acc, v)`, as TFLite Micro does. */
#include "pb_reduce.h"

#define PB_REDUCE_LOOPS(T, INIT, STEP)                                                         \
    do {                                                                                       \
        int32_t k0, k1, k2, r0, r1, r2;                                                        \
        T *out = output;                                                                       \
        for (k0 = 0; k0 < p->kept[0]; ++k0) {                                                  \
            for (k1 = 0; k1 < p->kept[1]; ++k1) {                                              \
                for (k2 = 0; k2 < p->kept[2]; ++k2) {                                          \
                    const T *base = input + k0 * p->kept_stride[0] + k1 * p->kept_stride[1]    \
                                    + k2 * p->kept_stride[2];                                  \
                    T acc = (INIT);                                                            \
                    for (r0 = 0; r0 < p->red[0]; ++r0) {                                       \
                        for (r1 = 0; r1 < p->red[1]; ++r1) {                                   \
                            const T *row = base + r0 * p->red_stride[0] + r1 * p->red_stride[1]; \
                            for (r2 = 0; r2 < p->red[2]; ++r2) {                               \
                                const T v = row[r2 * p->red_stride[2]];                        \
                                acc = (STEP);                                                  \
                            }                                                                  \
                        }                                                                      \
                    }                                                                          \
                    *out++ = acc;                                                              \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* Greater-than keeps the running value on ties and on NaN inputs. */
#define PB_TAKE_MAX(acc, v) ((v) > (acc) ? (v) : (acc))
#define PB_TAKE_MIN(acc, v) ((v) < (acc) ? (v) : (acc))

void pb_reduce_max_s8(const pb_reduce_params_t *p, const int8_t *input, int8_t *output)
{
    PB_REDUCE_LOOPS(int8_t, INT8_MIN, PB_TAKE_MAX(acc, v));
}

void pb_reduce_max_s16(const pb_reduce_params_t *p, const int16_t *input, int16_t *output)
{
    PB_REDUCE_LOOPS(int16_t, INT16_MIN, PB_TAKE_MAX(acc, v));
}

void pb_reduce_max_f32(const pb_reduce_params_t *p, const float *input, float *output)
{
    PB_REDUCE_LOOPS(float, -3.40282347e+38f, PB_TAKE_MAX(acc, v));
}

void pb_reduce_min_s8(const pb_reduce_params_t *p, const int8_t *input, int8_t *output)
{
    PB_REDUCE_LOOPS(int8_t, INT8_MAX, PB_TAKE_MIN(acc, v));
}

void pb_reduce_min_s16(const pb_reduce_params_t *p, const int16_t *input, int16_t *output)
{
    PB_REDUCE_LOOPS(int16_t, INT16_MAX, PB_TAKE_MIN(acc, v));
}

void pb_reduce_min_f32(const pb_reduce_params_t *p, const float *input, float *output)
{
    PB_REDUCE_LOOPS(float, 3.40282347e+38f, PB_TAKE_MIN(acc, v));
}

void pb_reduce_sum_f32(const pb_reduce_params_t *p, const float *input, float *output)
{
    PB_REDUCE_LOOPS(float, 0.0f, v + acc);
}

void pb_reduce_all_b(const pb_reduce_params_t *p, const uint8_t *input, uint8_t *output)
{
    PB_REDUCE_LOOPS(uint8_t, 1u, (uint8_t)(acc & (v != 0u)));
}

void pb_reduce_any_b(const pb_reduce_params_t *p, const uint8_t *input, uint8_t *output)
{
    PB_REDUCE_LOOPS(uint8_t, 0u, (uint8_t)(acc | (v != 0u)));
}

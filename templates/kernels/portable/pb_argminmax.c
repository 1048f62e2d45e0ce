/* ARG_MAX and ARG_MIN: the first element that BETTER(candidate, best) never beats. */
#include "pb_argminmax.h"

#define PB_ARG_LOOPS(IN_T, OUT_T, BETTER)                                                      \
    do {                                                                                       \
        int32_t o, n, i;                                                                       \
        for (o = 0; o < p->outer; ++o) {                                                       \
            const IN_T *slab = input + o * p->axis_size * p->inner;                            \
            for (n = 0; n < p->inner; ++n) {                                                   \
                IN_T best = slab[n];                                                           \
                int32_t index = 0;                                                             \
                for (i = 1; i < p->axis_size; ++i) {                                           \
                    const IN_T v = slab[i * p->inner + n];                                     \
                    if (BETTER(v, best)) {                                                     \
                        best = v;                                                              \
                        index = i;                                                             \
                    }                                                                          \
                }                                                                              \
                output[o * p->inner + n] = (OUT_T)index;                                       \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* Plain comparisons (TFLite Micro's, NaN compares false). */
#define PB_GREATER(v, best) ((v) > (best))
#define PB_LESS(v, best) ((v) < (best))
/* LiteRT's float comparisons: a NaN candidate never wins, any number beats a NaN best. */
#define PB_GREATER_NAN_LEAST(v, best) ((v) == (v) && ((best) != (best) || (v) > (best)))
#define PB_LESS_NAN_GREATEST(v, best) ((v) == (v) && ((best) != (best) || (v) < (best)))

void pb_arg_max_s8_i32(const pb_argminmax_params_t *p, const int8_t *input, int32_t *output)
{
    PB_ARG_LOOPS(int8_t, int32_t, PB_GREATER);
}

void pb_arg_max_f32_i32(const pb_argminmax_params_t *p, const float *input, int32_t *output)
{
    PB_ARG_LOOPS(float, int32_t, PB_GREATER);
}

void pb_arg_max_s8_i64(const pb_argminmax_params_t *p, const int8_t *input, int64_t *output)
{
    PB_ARG_LOOPS(int8_t, int64_t, PB_GREATER);
}

void pb_arg_max_f32_i64(const pb_argminmax_params_t *p, const float *input, int64_t *output)
{
    PB_ARG_LOOPS(float, int64_t, PB_GREATER_NAN_LEAST);
}

void pb_arg_min_s8_i32(const pb_argminmax_params_t *p, const int8_t *input, int32_t *output)
{
    PB_ARG_LOOPS(int8_t, int32_t, PB_LESS);
}

void pb_arg_min_f32_i32(const pb_argminmax_params_t *p, const float *input, int32_t *output)
{
    PB_ARG_LOOPS(float, int32_t, PB_LESS);
}

void pb_arg_min_s8_i64(const pb_argminmax_params_t *p, const int8_t *input, int64_t *output)
{
    PB_ARG_LOOPS(int8_t, int64_t, PB_LESS);
}

void pb_arg_min_f32_i64(const pb_argminmax_params_t *p, const float *input, int64_t *output)
{
    PB_ARG_LOOPS(float, int64_t, PB_LESS_NAN_GREATEST);
}

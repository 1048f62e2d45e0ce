#ifndef PB_UNARY_H
#define PB_UNARY_H

#include "pb_common.h"

/* One-input integer operators: int16 ABS and RSQRT, int8 LOG_SOFTMAX and
 * L2_NORMALIZATION, int16 functions read from interpolation tables (EXP, LOG), int16,
 * int32 and int64 NEG, integer and bool CASTs, ZEROS_LIKE. (int8 element-wise functions
 * are tables for pb_lut_s8; float32 forms are in pb_unary_f32.) */

typedef struct {
    int32_t size;
} pb_unary_params_t;

/* int16 ABS, zero points 0: |x|, rescaled by multiplier * 2^shift when the scales differ. */
typedef struct {
    int32_t size;
    int32_t needs_rescale;
    int32_t multiplier, shift;
} pb_abs_s16_params_t;

/* int16 RSQRT: 1/sqrt(x - input_offset) in fixed point, then multiplier * 2^shift
 * (1 / (sqrt(input scale) * output scale)); an input at the zero point gives the maximum. */
typedef struct {
    int32_t size;
    int32_t input_offset, output_offset;
    int32_t multiplier, shift;
} pb_rsqrt_s16_params_t;

/* int8 L2_NORMALIZATION over rows of `depth` values; outputs in steps of 1/128. */
typedef struct {
    int32_t outer, depth;
    int32_t input_offset;
} pb_l2norm_s8_params_t;

/* int8 LOG_SOFTMAX over rows of `depth` values. Both tables are indexed by max - x
 * (0..255): diff_q5 holds the scaled difference in Q5.26, exp_q12 its exp in Q12.19 (0
 * below diff_min). reverse_multiplier * 2^reverse_shift maps Q5.26 back to input steps. */
typedef struct {
    int32_t outer, depth;
    int32_t diff_min;
    int32_t reverse_multiplier, reverse_shift;
    const int32_t *diff_q5;
    const int32_t *exp_q12;
} pb_log_softmax_s8_params_t;

/* int16 function of a 513-entry table: the upper 9 bits of x pick a node, the lower 7
 * interpolate linearly to the next one (rounded), in int16 arithmetic. */
typedef struct {
    int32_t size;
    const int16_t *table;
} pb_lut_s16_params_t;

/* ZEROS_LIKE: nbytes zero bytes. */
typedef struct {
    int32_t nbytes;
} pb_zeros_params_t;

void pb_abs_s16(const pb_abs_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_abs_s16_plain(const pb_unary_params_t *p, const int16_t *input, int16_t *output);
void pb_rsqrt_s16(const pb_rsqrt_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_l2norm_s8(const pb_l2norm_s8_params_t *p, const int8_t *input, int8_t *output);
void pb_log_softmax_s8(const pb_log_softmax_s8_params_t *p, const int8_t *input, int8_t *output);
void pb_zeros(const pb_zeros_params_t *p, void *output);
void pb_lut_s16(const pb_lut_s16_params_t *p, const int16_t *input, int16_t *output);
/* Two's complement negation of the stored integers: the type's minimum stays. */
void pb_neg_s16(const pb_unary_params_t *p, const int16_t *input, int16_t *output);
void pb_neg_s32(const pb_unary_params_t *p, const int32_t *input, int32_t *output);
void pb_neg_s64(const pb_unary_params_t *p, const int64_t *input, int64_t *output);

/* CAST between integer types and bool (bool is one byte, 0 or 1): pb_cast_<in>_<out>. */
#define PB_CAST_INT_DECL(in_name, in_t, out_name, out_t) \
    void pb_cast_##in_name##_##out_name(const pb_unary_params_t *p, const in_t *input, out_t *output);
#define PB_CAST_INT_FROM(in_name, in_t)                \
    PB_CAST_INT_DECL(in_name, in_t, s8, int8_t)        \
    PB_CAST_INT_DECL(in_name, in_t, s16, int16_t)      \
    PB_CAST_INT_DECL(in_name, in_t, s32, int32_t)      \
    PB_CAST_INT_DECL(in_name, in_t, u32, uint32_t)     \
    PB_CAST_INT_DECL(in_name, in_t, b, uint8_t)
PB_CAST_INT_FROM(s8, int8_t)
PB_CAST_INT_FROM(s16, int16_t)
PB_CAST_INT_FROM(s32, int32_t)
PB_CAST_INT_FROM(u32, uint32_t)
PB_CAST_INT_FROM(b, uint8_t)
#undef PB_CAST_INT_FROM
#undef PB_CAST_INT_DECL

#endif

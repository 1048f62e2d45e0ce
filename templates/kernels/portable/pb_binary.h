#ifndef PB_BINARY_H
#define PB_BINARY_H

#include "pb_common.h"
#include "pb_common_fixedpoint.h"

/* Elementwise operators of two or three operands with N-D broadcasting: MINIMUM, MAXIMUM,
 * SQUARED_DIFFERENCE, DIV, FLOOR_DIV, FLOOR_MOD, PRELU, the int32 and float32 ADD, SUB
 * and MUL, and ADD_N (here); the comparisons, logical operators and SELECT_V2 (pb_compare)
 * walk the same loop nest.
 *
 * The generator folds the output shape into PB_BIN_DIMS loop levels (padded in front with
 * extent-1 levels), each with a per-operand element stride (0 = the operand repeats).
 * A constant operand is a const array in the parameters (const1..const3); the others are
 * passed at run time, in operand order, as one array of pointers. */
#define PB_BIN_DIMS 6

typedef struct {
    int32_t shape[PB_BIN_DIMS];   /* output extents, outermost first */
    int32_t stride1[PB_BIN_DIMS]; /* operand 1 element step per index of each level (0 = broadcast) */
    int32_t stride2[PB_BIN_DIMS]; /* operand 2 likewise */
    int32_t stride3[PB_BIN_DIMS]; /* operand 3 likewise (SELECT_V2) */
    const void *const1;           /* constant operands; NULL: the next run-time input */
    const void *const2;
    const void *const3;
    /* quantized arithmetic: each operator reads the fields it needs */
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_mult, input1_shift;
    int32_t input2_mult, input2_shift;
    int32_t output_mult, output_shift;
    int32_t output2_mult, output2_shift; /* PRELU: the negative side's multiplier */
    int32_t act_min, act_max;     /* integer outputs: clamp */
    float act_min_f, act_max_f;   /* float outputs: clamp */
} pb_binary_params_t;

/* One innermost row of n outputs; operand k advances by step[k] (0 or 1) elements. */
typedef void (*pb_bin_row_fn)(const pb_binary_params_t *p, const void *const *in, const int32_t *step,
                              void *out, int32_t n);

/* Visits the output in order: the outer levels place each operand's row, `row` does the rest.
 * count operands of size[k] bytes per element; the output has out_size bytes per element. */
static inline void pb_bin_walk(const pb_binary_params_t *p, const void *const *runtime, int32_t count,
                               const int32_t *size, void *out, int32_t out_size, pb_bin_row_fn row)
{
    const int32_t *stride[3];
    const void *constant[3];
    const uint8_t *base[3];
    const void *at[3];
    int32_t step[3];
    const int32_t *n = p->shape;
    const int32_t inner = n[PB_BIN_DIMS - 1];
    uint8_t *o8 = (uint8_t *)out;
    int32_t k, next = 0, i0, i1, i2, i3, i4;

    stride[0] = p->stride1;
    stride[1] = p->stride2;
    stride[2] = p->stride3;
    constant[0] = p->const1;
    constant[1] = p->const2;
    constant[2] = p->const3;
    for (k = 0; k < count; ++k) {
        base[k] = (const uint8_t *)(constant[k] != NULL ? constant[k] : runtime[next++]);
        step[k] = stride[k][PB_BIN_DIMS - 1];
    }
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        for (k = 0; k < count; ++k) {
                            const int32_t *s = stride[k];
                            const int32_t at_k = i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
                            at[k] = base[k] + at_k * size[k];
                        }
                        row(p, at, step, o8, inner);
                        o8 += inner * out_size;
                    }
                }
            }
        }
    }
}

/* A row function `name` computing `expr` from x (operand 1, type ta) and y (operand 2,
 * type tb) into the output type to; p is the parameters. */
#define PB_BIN_ROW(name, ta, tb, to, expr)                                                           \
    static void name(const pb_binary_params_t *p, const void *const *in, const int32_t *step,     \
                     void *out, int32_t n)                                                          \
    {                                                                                               \
        const ta *a_ = (const ta *)in[0];                                                           \
        const tb *b_ = (const tb *)in[1];                                                           \
        to *o_ = (to *)out;                                                                         \
        int32_t i_;                                                                                 \
        (void)p;                                                                                    \
        for (i_ = 0; i_ < n; ++i_) {                                                                \
            const ta x = a_[i_ * step[0]];                                                          \
            const tb y = b_[i_ * step[1]];                                                          \
            o_[i_] = (to)(expr);                                                                    \
        }                                                                                           \
    }

/* float clamp as TFLite Micro's ActivationFunctionWithMinMax: NaN passes through. */
static inline float pb_clampf(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return hi < v ? hi : v;
}

/* int32 multiply that wraps like the reference instead of being undefined
 * (pb_wrap_add and pb_wrap_sub in pb_common_fixedpoint.h add and subtract). */
static inline int32_t pb_wrap_mul32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a * (uint32_t)b);
}

/* ---- entry points: (params, run-time operands in order, output) ------------------------- */

/* int32 (wrapping, clamped to [act_min, act_max]) and float32 (clamped to [act_min_f, act_max_f]) */
void pb_binary_add_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_sub_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_mul_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_div_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_add_f32(const pb_binary_params_t *p, const void *const *in, float *output);
void pb_binary_sub_f32(const pb_binary_params_t *p, const void *const *in, float *output);
void pb_binary_mul_f32(const pb_binary_params_t *p, const void *const *in, float *output);
void pb_binary_div_f32(const pb_binary_params_t *p, const void *const *in, float *output);

/* MINIMUM, MAXIMUM: the raw values (TFLite Micro does not requantize) */
void pb_binary_minimum_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);
void pb_binary_maximum_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);
void pb_binary_minimum_s16(const pb_binary_params_t *p, const void *const *in, int16_t *output);
void pb_binary_maximum_s16(const pb_binary_params_t *p, const void *const *in, int16_t *output);
void pb_binary_minimum_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_maximum_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_minimum_i64(const pb_binary_params_t *p, const void *const *in, int64_t *output);
void pb_binary_maximum_i64(const pb_binary_params_t *p, const void *const *in, int64_t *output);
void pb_binary_minimum_f32(const pb_binary_params_t *p, const void *const *in, float *output);
void pb_binary_maximum_f32(const pb_binary_params_t *p, const void *const *in, float *output);

/* SQUARED_DIFFERENCE */
void pb_binary_squared_difference_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);
void pb_binary_squared_difference_s16(const pb_binary_params_t *p, const void *const *in, int16_t *output);
void pb_binary_squared_difference_i32(const pb_binary_params_t *p, const void *const *in, int32_t *output);
void pb_binary_squared_difference_f32(const pb_binary_params_t *p, const void *const *in, float *output);

/* DIV int8: a reciprocal of the divisor in fixed point, as TFLite Micro does */
void pb_binary_div_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);

/* FLOOR_DIV, FLOOR_MOD (float32 only in TFLite Micro) */
void pb_binary_floor_div_f32(const pb_binary_params_t *p, const void *const *in, float *output);
void pb_binary_floor_mod_f32(const pb_binary_params_t *p, const void *const *in, float *output);

/* PRELU: operand 2 is alpha (int8 for both int8 and int16 inputs) */
void pb_binary_prelu_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);
void pb_binary_prelu_s16(const pb_binary_params_t *p, const void *const *in, int16_t *output);
void pb_binary_prelu_f32(const pb_binary_params_t *p, const void *const *in, float *output);

/* ADD_N: count same-shape inputs summed element by element, in input order. */
#define PB_ADD_N_MAX_INPUTS 16

typedef struct {
    int32_t size;                              /* elements of each input */
    int32_t count;                             /* inputs */
    int32_t const_offset[PB_ADD_N_MAX_INPUTS]; /* -1: a run-time input; else element offset in const_data */
    const void *const_data;                    /* constant inputs, back to back; may be NULL */
    int32_t input_offset, output_offset;       /* int8 */
    int32_t left_shift, input_mult, input_shift, output_mult, output_shift;
    int32_t act_min, act_max;
} pb_add_n_params_t;

void pb_binary_add_n_s8(const pb_add_n_params_t *p, const void *const *in, int8_t *output);
void pb_binary_add_n_f32(const pb_add_n_params_t *p, const void *const *in, float *output);

#endif

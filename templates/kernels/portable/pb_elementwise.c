/* ADD, SUB, MUL: int8 and 16x8, with N-D broadcasting driven by generated strides. */
#include "pb_elementwise.h"

typedef pb_elementwise_params_t pb_ew_t;

/* One innermost row of n outputs; a and b advance by sa and sb elements per output. */
typedef void (*pb_ew_row_fn)(const pb_ew_t *p, const void *a, int32_t sa, const void *b, int32_t sb,
                             void *out, int32_t n);

/* ---- per-element arithmetic ------------------------------------------------------ */

/* ADD/SUB: an input brought to the common scale, 2^left_shift wider than its own. */
static inline int32_t pb_ew_rescale(int32_t v, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    return pb_mul_by_quantized_mult((v + offset) * ((int32_t)1 << left_shift), mult, shift);
}

/* The common tail: to the output scale, add the zero point, clamp to the activation. */
static inline int32_t pb_ew_output(const pb_ew_t *p, int32_t raw)
{
    const int32_t r = pb_mul_by_quantized_mult(raw, p->output_mult, p->output_shift) + p->output_offset;
    return PB_CLAMP(r, p->act_min, p->act_max);
}

static inline int32_t pb_ew_add(const pb_ew_t *p, int32_t x, int32_t y)
{
    const int32_t a = pb_ew_rescale(x, p->input1_offset, p->left_shift, p->input1_mult, p->input1_shift);
    const int32_t b = pb_ew_rescale(y, p->input2_offset, p->left_shift, p->input2_mult, p->input2_shift);
    return pb_ew_output(p, a + b);
}

static inline int32_t pb_ew_sub(const pb_ew_t *p, int32_t x, int32_t y)
{
    const int32_t a = pb_ew_rescale(x, p->input1_offset, p->left_shift, p->input1_mult, p->input1_shift);
    const int32_t b = pb_ew_rescale(y, p->input2_offset, p->left_shift, p->input2_mult, p->input2_shift);
    return pb_ew_output(p, a - b);
}

static inline int32_t pb_ew_mul(const pb_ew_t *p, int32_t x, int32_t y)
{
    return pb_ew_output(p, (x + p->input1_offset) * (y + p->input2_offset));
}

/* ---- rows ------------------------------------------------------------------------ */

#if defined(__GNUC__)
#define PB_EW_INLINE static inline __attribute__((always_inline))
#else
#define PB_EW_INLINE static inline
#endif

enum { PB_EW_ADD, PB_EW_SUB, PB_EW_MUL };

/* One row of op on int8 or (wide) int16 values; op and wide are constants in each row
 * function below, so each compiles to its own loop. */
PB_EW_INLINE void pb_ew_row(const pb_ew_t *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out,
                            int32_t n, int32_t op, int32_t wide)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t x = wide ? ((const int16_t *)a)[i * sa] : ((const int8_t *)a)[i * sa];
        const int32_t y = wide ? ((const int16_t *)b)[i * sb] : ((const int8_t *)b)[i * sb];
        const int32_t v = op == PB_EW_ADD ? pb_ew_add(p, x, y) : op == PB_EW_SUB ? pb_ew_sub(p, x, y)
                                                                                 : pb_ew_mul(p, x, y);
        if (wide) {
            ((int16_t *)out)[i] = (int16_t)v;
        } else {
            ((int8_t *)out)[i] = (int8_t)v;
        }
    }
}

/* The six rows pb_ew_walk takes, one per operation and type. */
#define PB_EW_ROW(name, op, wide)                                                                   \
    static void name(const pb_ew_t *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, \
                     int32_t n)                                                                     \
    {                                                                                               \
        pb_ew_row(p, a, sa, b, sb, out, n, op, wide);                                               \
    }
PB_EW_ROW(pb_ew_add_row_s8, PB_EW_ADD, 0)
PB_EW_ROW(pb_ew_sub_row_s8, PB_EW_SUB, 0)
PB_EW_ROW(pb_ew_mul_row_s8, PB_EW_MUL, 0)
PB_EW_ROW(pb_ew_add_row_s16, PB_EW_ADD, 1)
PB_EW_ROW(pb_ew_sub_row_s16, PB_EW_SUB, 1)
PB_EW_ROW(pb_ew_mul_row_s16, PB_EW_MUL, 1)
#undef PB_EW_ROW

/* ---- the broadcast walk ----------------------------------------------------------- */

/* Visits the output in order; the outer levels pick where each operand's row starts. */
static void pb_ew_walk(const pb_ew_t *p, const void *a, const void *b, void *out, int32_t elem_size,
                       pb_ew_row_fn row)
{
    const int32_t *n = p->shape;
    const int32_t *s1 = p->stride1;
    const int32_t *s2 = p->stride2;
    const int32_t inner = n[PB_EW_DIMS - 1];
    const uint8_t *a8 = (const uint8_t *)a;
    const uint8_t *b8 = (const uint8_t *)b;
    uint8_t *o8 = (uint8_t *)out;
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < n[0]; ++i0) {
        for (i1 = 0; i1 < n[1]; ++i1) {
            for (i2 = 0; i2 < n[2]; ++i2) {
                for (i3 = 0; i3 < n[3]; ++i3) {
                    for (i4 = 0; i4 < n[4]; ++i4) {
                        const int32_t ia = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];
                        const int32_t ib = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];
                        row(p, a8 + ia * elem_size, s1[PB_EW_DIMS - 1], b8 + ib * elem_size,
                            s2[PB_EW_DIMS - 1], o8, inner);
                        o8 += inner * elem_size;
                    }
                }
            }
        }
    }
}

/* The constant operand goes on the side the model has it. */
static void pb_ew_walk_const(const pb_ew_t *p, const void *c, const void *x, void *out, int32_t elem_size,
                             pb_ew_row_fn row)
{
    if (p->const_input == 1) {
        pb_ew_walk(p, c, x, out, elem_size, row);
    } else {
        pb_ew_walk(p, x, c, out, elem_size, row);
    }
}

/* ---- entry points ------------------------------------------------------------------- */

void pb_add_s8(const pb_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    pb_ew_walk(p, input1, input2, output, 1, pb_ew_add_row_s8);
}

void pb_sub_s8(const pb_sub_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    pb_ew_walk(p, input1, input2, output, 1, pb_ew_sub_row_s8);
}

void pb_mul_s8(const pb_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    pb_ew_walk(p, input1, input2, output, 1, pb_ew_mul_row_s8);
}

void pb_add_s16(const pb_add_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    pb_ew_walk(p, input1, input2, output, 2, pb_ew_add_row_s16);
}

void pb_sub_s16(const pb_sub_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    pb_ew_walk(p, input1, input2, output, 2, pb_ew_sub_row_s16);
}

void pb_mul_s16(const pb_mul_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    pb_ew_walk(p, input1, input2, output, 2, pb_ew_mul_row_s16);
}

void pb_add_s8_const(const pb_add_params_t *p, const int8_t *input, int8_t *output)
{
    pb_ew_walk_const(p, p->const_s8, input, output, 1, pb_ew_add_row_s8);
}

void pb_sub_s8_const(const pb_sub_params_t *p, const int8_t *input, int8_t *output)
{
    pb_ew_walk_const(p, p->const_s8, input, output, 1, pb_ew_sub_row_s8);
}

void pb_mul_s8_const(const pb_mul_params_t *p, const int8_t *input, int8_t *output)
{
    pb_ew_walk_const(p, p->const_s8, input, output, 1, pb_ew_mul_row_s8);
}

void pb_add_s16_const(const pb_add_params_t *p, const int16_t *input, int16_t *output)
{
    pb_ew_walk_const(p, p->const_s16, input, output, 2, pb_ew_add_row_s16);
}

void pb_sub_s16_const(const pb_sub_params_t *p, const int16_t *input, int16_t *output)
{
    pb_ew_walk_const(p, p->const_s16, input, output, 2, pb_ew_sub_row_s16);
}

void pb_mul_s16_const(const pb_mul_params_t *p, const int16_t *input, int16_t *output)
{
    pb_ew_walk_const(p, p->const_s16, input, output, 2, pb_ew_mul_row_s16);
}

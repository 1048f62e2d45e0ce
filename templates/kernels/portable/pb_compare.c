/* Comparisons, logical operators and SELECT_V2, bit-exact with TFLite Micro. */
#include "pb_compare.h"

static const int32_t pb_cmp_b1[3] = {1, 1, 1};
static const int32_t pb_cmp_w4[3] = {4, 4, 4};
static const int32_t pb_cmp_w8[3] = {8, 8, 8};
static const int32_t pb_sel_b2[3] = {1, 2, 2};
static const int32_t pb_sel_b4[3] = {1, 4, 4};

/* An int8 input at its own scale: (x + offset) * 2^left_shift times the scale. */
static inline int32_t pb_cmp_scaled(int32_t x, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    return pb_mul_by_quantized_mult((int32_t)((uint32_t)(x + offset) << left_shift), mult, shift);
}

#define PB_CMP_X pb_cmp_scaled(x, p->input1_offset, p->left_shift, p->input1_mult, p->input1_shift)
#define PB_CMP_Y pb_cmp_scaled(y, p->input2_offset, p->left_shift, p->input2_mult, p->input2_shift)

/* ---- rows ---------------------------------------------------------------------------- */

PB_BIN_ROW(pb_row_eq_s8, int8_t, int8_t, uint8_t, PB_CMP_X == PB_CMP_Y)
PB_BIN_ROW(pb_row_ne_s8, int8_t, int8_t, uint8_t, PB_CMP_X != PB_CMP_Y)
PB_BIN_ROW(pb_row_gt_s8, int8_t, int8_t, uint8_t, PB_CMP_X > PB_CMP_Y)
PB_BIN_ROW(pb_row_ge_s8, int8_t, int8_t, uint8_t, PB_CMP_X >= PB_CMP_Y)
PB_BIN_ROW(pb_row_lt_s8, int8_t, int8_t, uint8_t, PB_CMP_X < PB_CMP_Y)
PB_BIN_ROW(pb_row_le_s8, int8_t, int8_t, uint8_t, PB_CMP_X <= PB_CMP_Y)

PB_BIN_ROW(pb_row_eq_i32, int32_t, int32_t, uint8_t, x == y)
PB_BIN_ROW(pb_row_ne_i32, int32_t, int32_t, uint8_t, x != y)
PB_BIN_ROW(pb_row_gt_i32, int32_t, int32_t, uint8_t, x > y)
PB_BIN_ROW(pb_row_ge_i32, int32_t, int32_t, uint8_t, x >= y)
PB_BIN_ROW(pb_row_lt_i32, int32_t, int32_t, uint8_t, x < y)
PB_BIN_ROW(pb_row_le_i32, int32_t, int32_t, uint8_t, x <= y)

PB_BIN_ROW(pb_row_eq_i64, int64_t, int64_t, uint8_t, x == y)
PB_BIN_ROW(pb_row_ne_i64, int64_t, int64_t, uint8_t, x != y)
PB_BIN_ROW(pb_row_gt_i64, int64_t, int64_t, uint8_t, x > y)
PB_BIN_ROW(pb_row_ge_i64, int64_t, int64_t, uint8_t, x >= y)
PB_BIN_ROW(pb_row_lt_i64, int64_t, int64_t, uint8_t, x < y)
PB_BIN_ROW(pb_row_le_i64, int64_t, int64_t, uint8_t, x <= y)

PB_BIN_ROW(pb_row_eq_f32, float, float, uint8_t, x == y)
PB_BIN_ROW(pb_row_ne_f32, float, float, uint8_t, x != y)
PB_BIN_ROW(pb_row_gt_f32, float, float, uint8_t, x > y)
PB_BIN_ROW(pb_row_ge_f32, float, float, uint8_t, x >= y)
PB_BIN_ROW(pb_row_lt_f32, float, float, uint8_t, x < y)
PB_BIN_ROW(pb_row_le_f32, float, float, uint8_t, x <= y)

PB_BIN_ROW(pb_row_eq_b, uint8_t, uint8_t, uint8_t, x == y)
PB_BIN_ROW(pb_row_ne_b, uint8_t, uint8_t, uint8_t, x != y)
PB_BIN_ROW(pb_row_and_b, uint8_t, uint8_t, uint8_t, x && y)
PB_BIN_ROW(pb_row_or_b, uint8_t, uint8_t, uint8_t, x || y)

static void pb_row_not_b(const pb_binary_params_t *p, const void *const *in, const int32_t *step, void *out,
                         int32_t n)
{
    const uint8_t *a = (const uint8_t *)in[0];
    uint8_t *o = (uint8_t *)out;
    int32_t i;
    (void)p;
    for (i = 0; i < n; ++i) {
        o[i] = (uint8_t)!a[i * step[0]];
    }
}

/* SELECT_V2 rows: condition bytes, then x and y elements of one width, copied as bits. */
#define PB_SELECT_ROW(name, type)                                                                 \
    static void name(const pb_binary_params_t *p, const void *const *in, const int32_t *step,      \
                     void *out, int32_t n)                                                         \
    {                                                                                              \
        const uint8_t *c = (const uint8_t *)in[0];                                                 \
        const type *x = (const type *)in[1];                                                       \
        const type *y = (const type *)in[2];                                                       \
        type *o = (type *)out;                                                                     \
        int32_t i;                                                                                 \
        (void)p;                                                                                   \
        for (i = 0; i < n; ++i) {                                                                  \
            o[i] = c[i * step[0]] ? x[i * step[1]] : y[i * step[2]];                               \
        }                                                                                          \
    }

PB_SELECT_ROW(pb_row_select_1, uint8_t)
PB_SELECT_ROW(pb_row_select_2, uint16_t)
PB_SELECT_ROW(pb_row_select_4, uint32_t)

/* ---- entry points --------------------------------------------------------------------- */

#define PB_CMP_ENTRY(name, otype, count, row, sizes, out_size)                                  \
    void name(const pb_binary_params_t *p, const void *const *in, otype *output)                 \
    {                                                                                            \
        pb_bin_walk(p, in, count, sizes, output, out_size, row);                                 \
    }

PB_CMP_ENTRY(pb_compare_equal_s8, uint8_t, 2, pb_row_eq_s8, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_not_equal_s8, uint8_t, 2, pb_row_ne_s8, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_greater_s8, uint8_t, 2, pb_row_gt_s8, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_greater_equal_s8, uint8_t, 2, pb_row_ge_s8, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_less_s8, uint8_t, 2, pb_row_lt_s8, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_less_equal_s8, uint8_t, 2, pb_row_le_s8, pb_cmp_b1, 1)

PB_CMP_ENTRY(pb_compare_equal_i32, uint8_t, 2, pb_row_eq_i32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_not_equal_i32, uint8_t, 2, pb_row_ne_i32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_greater_i32, uint8_t, 2, pb_row_gt_i32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_greater_equal_i32, uint8_t, 2, pb_row_ge_i32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_less_i32, uint8_t, 2, pb_row_lt_i32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_less_equal_i32, uint8_t, 2, pb_row_le_i32, pb_cmp_w4, 1)

PB_CMP_ENTRY(pb_compare_equal_i64, uint8_t, 2, pb_row_eq_i64, pb_cmp_w8, 1)
PB_CMP_ENTRY(pb_compare_not_equal_i64, uint8_t, 2, pb_row_ne_i64, pb_cmp_w8, 1)
PB_CMP_ENTRY(pb_compare_greater_i64, uint8_t, 2, pb_row_gt_i64, pb_cmp_w8, 1)
PB_CMP_ENTRY(pb_compare_greater_equal_i64, uint8_t, 2, pb_row_ge_i64, pb_cmp_w8, 1)
PB_CMP_ENTRY(pb_compare_less_i64, uint8_t, 2, pb_row_lt_i64, pb_cmp_w8, 1)
PB_CMP_ENTRY(pb_compare_less_equal_i64, uint8_t, 2, pb_row_le_i64, pb_cmp_w8, 1)

PB_CMP_ENTRY(pb_compare_equal_f32, uint8_t, 2, pb_row_eq_f32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_not_equal_f32, uint8_t, 2, pb_row_ne_f32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_greater_f32, uint8_t, 2, pb_row_gt_f32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_greater_equal_f32, uint8_t, 2, pb_row_ge_f32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_less_f32, uint8_t, 2, pb_row_lt_f32, pb_cmp_w4, 1)
PB_CMP_ENTRY(pb_compare_less_equal_f32, uint8_t, 2, pb_row_le_f32, pb_cmp_w4, 1)

PB_CMP_ENTRY(pb_compare_equal_b, uint8_t, 2, pb_row_eq_b, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_compare_not_equal_b, uint8_t, 2, pb_row_ne_b, pb_cmp_b1, 1)

PB_CMP_ENTRY(pb_logical_and, uint8_t, 2, pb_row_and_b, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_logical_or, uint8_t, 2, pb_row_or_b, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_logical_not, uint8_t, 1, pb_row_not_b, pb_cmp_b1, 1)

PB_CMP_ENTRY(pb_select_v2_s8, int8_t, 3, pb_row_select_1, pb_cmp_b1, 1)
PB_CMP_ENTRY(pb_select_v2_s16, int16_t, 3, pb_row_select_2, pb_sel_b2, 2)
PB_CMP_ENTRY(pb_select_v2_f32, float, 3, pb_row_select_4, pb_sel_b4, 4)

#ifndef PB_ELEMENTWISE_H
#define PB_ELEMENTWISE_H

#include "pb_common.h"

/* Loop nest depth of the broadcast iterator. The generator folds the output shape
 * (merging dimensions that step alike in both operands) and pads it in front with
 * extent-1 dimensions, so every call walks exactly this many levels. */
#define PB_EW_DIMS 6

/* ADD, SUB and MUL share one parameter layout; each operator reads the fields it needs. */
typedef struct {
    int32_t shape[PB_EW_DIMS];   /* output extents, outermost first */
    int32_t stride1[PB_EW_DIMS]; /* input 1 element step per index of each level (0 = broadcast) */
    int32_t stride2[PB_EW_DIMS]; /* input 2 likewise */
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;          /* ADD/SUB: inputs are widened by 2^left_shift first */
    int32_t input1_mult, input1_shift;
    int32_t input2_mult, input2_shift;
    int32_t output_mult, output_shift;
    int32_t act_min, act_max;
    int32_t const_input;         /* 0: both operands are arguments; 1 or 2: that operand is constant */
    const int8_t *const_s8;      /* the constant operand, int8 models */
    const int16_t *const_s16;    /* the constant operand, 16x8 models */
} pb_elementwise_params_t;

typedef pb_elementwise_params_t pb_add_params_t;
typedef pb_elementwise_params_t pb_sub_params_t;
typedef pb_elementwise_params_t pb_mul_params_t;

/* Both operands in the arena. */
void pb_add_s8(const pb_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void pb_sub_s8(const pb_sub_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void pb_mul_s8(const pb_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void pb_add_s16(const pb_add_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void pb_sub_s16(const pb_sub_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void pb_mul_s16(const pb_mul_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output);

/* One operand constant (p->const_input says which); the other is the argument. */
void pb_add_s8_const(const pb_add_params_t *p, const int8_t *input, int8_t *output);
void pb_sub_s8_const(const pb_sub_params_t *p, const int8_t *input, int8_t *output);
void pb_mul_s8_const(const pb_mul_params_t *p, const int8_t *input, int8_t *output);
void pb_add_s16_const(const pb_add_params_t *p, const int16_t *input, int16_t *output);
void pb_sub_s16_const(const pb_sub_params_t *p, const int16_t *input, int16_t *output);
void pb_mul_s16_const(const pb_mul_params_t *p, const int16_t *input, int16_t *output);

#endif

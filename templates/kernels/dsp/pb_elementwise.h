#ifndef PB_DSP_ELEMENTWISE_H
#define PB_DSP_ELEMENTWISE_H

#include "pb_common.h"

/* int8 ADD of two same-shape operands through per-input lookup tables: the DSP tier's
 * elementwise kernel (SUB, MUL and broadcasting ADD stay portable), on the Helium tier too.
 *
 * In TFLite Micro's int8 ADD each input's contribution at the common scale,
 *     MultiplyByQuantizedMultiplierSmallerThanOneExp((x + input_offset) << left_shift, mult, shift),
 * depends only on the int8 value x, so the generator
 * (protobrain/compiler/ops/tiers/add_lut.py) tabulates it for all 256 values. Per element
 * the kernel then adds two table entries and requantizes the sum to the output scale, as
 * the reference does.
 *
 * Tables are indexed by the raw byte of the input, (uint8_t)x: entry 0..127 for x = 0..127,
 * entry 128..255 for x = -128..-1. */

#define PB_ADD_LUT_EXACT 0 /* TFLite's requantization step by step (pb_mul_by_quantized_mult) */
#define PB_ADD_LUT_FAST 1  /* one rounded high multiply and one rounding shift; see below */
#define PB_ADD_LUT_FAST_FULL 2 /* FAST with no clamp but int8's: one SSAT */

typedef struct {
    int32_t size;           /* elements */
    const int32_t *table1;  /* [256] input 1 contribution; FAST: doubled */
    const int32_t *table2;  /* [256] input 2 contribution; FAST: doubled */
    int32_t mode;           /* PB_ADD_LUT_EXACT, PB_ADD_LUT_FAST or PB_ADD_LUT_FAST_FULL */
    int32_t output_mult;    /* Q0.31 output multiplier */
    int32_t output_shift;   /* EXACT: TFLite's shift (<= 0); FAST: the right shift e (>= 1) */
    int32_t output_round;   /* FAST: 2^(e-1) + (output_offset - act_min) * 2^e; FAST_FULL:
                               2^(e-1) + output_offset * 2^e; EXACT: 0 */
    int32_t output_offset;  /* output zero point (EXACT adds it; FAST has it in output_round) */
    int32_t act_min, act_max;
} pb_add_lut_params_t;

void pb_add_lut_s8(const pb_add_lut_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* PB_DSP_ELEMENTWISE_H */

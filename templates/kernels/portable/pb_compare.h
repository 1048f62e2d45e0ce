#ifndef PB_COMPARE_H
#define PB_COMPARE_H

#include "pb_binary.h"

/* EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, LOGICAL_AND, LOGICAL_OR,
 * LOGICAL_NOT and SELECT_V2, over pb_binary's broadcast loop nest and parameters.
 * bool tensors are one byte, 0 or 1.
 *
 * int8 comparisons compare both inputs at their own scale, (x - zero_point) * 2^left_shift
 * times the scale as a Q0.31 multiplier (input1_offset, input1_mult, input1_shift and the
 * same for input 2), as TFLite Micro does; the other types compare the raw values. */

void pb_compare_equal_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_not_equal_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_equal_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_equal_s8(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

void pb_compare_equal_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_not_equal_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_equal_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_equal_i32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

void pb_compare_equal_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_not_equal_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_equal_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_equal_i64(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

void pb_compare_equal_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_not_equal_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_greater_equal_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_less_equal_f32(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

void pb_compare_equal_b(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_compare_not_equal_b(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

/* LOGICAL_AND, LOGICAL_OR (two operands), LOGICAL_NOT (one) */
void pb_logical_and(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_logical_or(const pb_binary_params_t *p, const void *const *in, uint8_t *output);
void pb_logical_not(const pb_binary_params_t *p, const void *const *in, uint8_t *output);

/* SELECT_V2: condition (bool), x, y; the values are copied as they are (bit for bit). */
void pb_select_v2_s8(const pb_binary_params_t *p, const void *const *in, int8_t *output);
void pb_select_v2_s16(const pb_binary_params_t *p, const void *const *in, int16_t *output);
void pb_select_v2_f32(const pb_binary_params_t *p, const void *const *in, float *output);

#endif

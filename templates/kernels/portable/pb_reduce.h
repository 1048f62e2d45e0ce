#ifndef PB_REDUCE_H_
#define PB_REDUCE_H_

#include "pb_common.h"

/* REDUCE_MAX, REDUCE_MIN, SUM (float) and REDUCE_ALL / REDUCE_ANY (bool, one byte each):
 * the input is walked as up to 3 kept loops (outermost, in output order) around up to 3
 * reduced loops; sizes and element strides come precomputed, unused loops are 1. */
typedef struct {
    int32_t kept[3], kept_stride[3];
    int32_t red[3], red_stride[3];
} pb_reduce_params_t;

void pb_reduce_max_s8(const pb_reduce_params_t *p, const int8_t *input, int8_t *output);
void pb_reduce_max_s16(const pb_reduce_params_t *p, const int16_t *input, int16_t *output);
void pb_reduce_max_f32(const pb_reduce_params_t *p, const float *input, float *output);
void pb_reduce_min_s8(const pb_reduce_params_t *p, const int8_t *input, int8_t *output);
void pb_reduce_min_s16(const pb_reduce_params_t *p, const int16_t *input, int16_t *output);
void pb_reduce_min_f32(const pb_reduce_params_t *p, const float *input, float *output);
void pb_reduce_sum_f32(const pb_reduce_params_t *p, const float *input, float *output);
void pb_reduce_all_b(const pb_reduce_params_t *p, const uint8_t *input, uint8_t *output);
void pb_reduce_any_b(const pb_reduce_params_t *p, const uint8_t *input, uint8_t *output);

#endif

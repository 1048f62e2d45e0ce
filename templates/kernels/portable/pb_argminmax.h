#ifndef PB_ARGMINMAX_H_
#define PB_ARGMINMAX_H_

#include "pb_common.h"

/* ARG_MAX / ARG_MIN: the input as [outer, axis_size, inner]; one index per (outer, inner). */
typedef struct {
    int32_t outer, axis_size, inner;
} pb_argminmax_params_t;

void pb_arg_max_s8_i32(const pb_argminmax_params_t *p, const int8_t *input, int32_t *output);
void pb_arg_max_f32_i32(const pb_argminmax_params_t *p, const float *input, int32_t *output);
void pb_arg_max_s8_i64(const pb_argminmax_params_t *p, const int8_t *input, int64_t *output);
void pb_arg_max_f32_i64(const pb_argminmax_params_t *p, const float *input, int64_t *output);
void pb_arg_min_s8_i32(const pb_argminmax_params_t *p, const int8_t *input, int32_t *output);
void pb_arg_min_f32_i32(const pb_argminmax_params_t *p, const float *input, int32_t *output);
void pb_arg_min_s8_i64(const pb_argminmax_params_t *p, const int8_t *input, int64_t *output);
void pb_arg_min_f32_i64(const pb_argminmax_params_t *p, const float *input, int64_t *output);

#endif

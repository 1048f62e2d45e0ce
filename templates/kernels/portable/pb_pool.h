#ifndef PB_POOL_H
#define PB_POOL_H

#include "pb_common.h"

/* AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D on NHWC tensors; integer input and output
 * share scale and zero point. Integer forms clamp to act_min..act_max, float forms to
 * act_min_f..act_max_f. */
typedef struct {
    int32_t batches, depth;
    int32_t input_h, input_w;
    int32_t output_h, output_w;
    int32_t stride_h, stride_w;
    int32_t filter_h, filter_w;
    int32_t pad_h, pad_w;        /* leading (top/left) padding; windows are clipped to the input */
    int32_t act_min, act_max;
    float act_min_f, act_max_f;
} pb_pool_params_t;

typedef pb_pool_params_t pb_avg_pool_params_t;
typedef pb_pool_params_t pb_max_pool_params_t;
typedef pb_pool_params_t pb_l2_pool_params_t;

void pb_avg_pool_s8(const pb_avg_pool_params_t *p, const int8_t *input, int8_t *output);
void pb_avg_pool_s16(const pb_avg_pool_params_t *p, const int16_t *input, int16_t *output);
void pb_max_pool_s8(const pb_max_pool_params_t *p, const int8_t *input, int8_t *output);
void pb_max_pool_s16(const pb_max_pool_params_t *p, const int16_t *input, int16_t *output);
void pb_avg_pool_f32(const pb_avg_pool_params_t *p, const float *input, float *output);
void pb_max_pool_f32(const pb_max_pool_params_t *p, const float *input, float *output);
void pb_l2_pool_f32(const pb_l2_pool_params_t *p, const float *input, float *output);

#endif

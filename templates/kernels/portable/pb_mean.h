#ifndef PB_MEAN_KERNEL_H_
#define PB_MEAN_KERNEL_H_

#include "pb_common.h"

/* MEAN: the input is walked as up to 3 kept loops (outermost, in output order) around up
 * to 3 reduced loops; sizes and element strides come precomputed, unused loops are 1. */
typedef struct {
    int32_t kept[3], kept_stride[3];
    int32_t red[3], red_stride[3];
    int32_t count;          /* elements averaged per output */
    int32_t input_zp, output_zp;
    int32_t mult, shift;    /* s_in / s_out with 1/count folded in */
} pb_mean_params_t;

void pb_mean_s8(const pb_mean_params_t *p, const int8_t *input, int8_t *output);
void pb_mean_s16(const pb_mean_params_t *p, const int16_t *input, int16_t *output);
void pb_mean_f32(const pb_mean_params_t *p, const float *input, float *output);

#endif

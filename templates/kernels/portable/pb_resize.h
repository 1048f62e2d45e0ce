#ifndef PB_RESIZE_H_
#define PB_RESIZE_H_

#include "pb_common.h"

/* RESIZE_NEAREST_NEIGHBOR: output (y, x) copies input (src_y[y], src_x[x]), depth raw
 * elements of elem_bytes each (the type does not matter). */
typedef struct {
    int32_t batches, depth;
    int32_t input_h, input_w;
    int32_t output_h, output_w;
    int32_t elem_bytes;
    const int32_t *src_y, *src_x;
} pb_resize_nearest_params_t;

/* RESIZE_BILINEAR: output row y blends input rows y0[y] and y1[y], column x blends input
 * columns x0[x] and x1[x]. Integer forms: fy / fx are the 10-bit positions past the lower
 * row / column; float form: wy / wx weigh the upper one, wy1 / wx1 the lower one. */
typedef struct {
    int32_t batches, depth;
    int32_t input_h, input_w;
    int32_t output_h, output_w;
    const int32_t *y0, *y1, *x0, *x1;
    const int32_t *fy, *fx;
    const float *wy, *wy1, *wx, *wx1;
} pb_resize_bilinear_params_t;

void pb_resize_nearest(const pb_resize_nearest_params_t *p, const void *input, void *output);
void pb_resize_bilinear_s8(const pb_resize_bilinear_params_t *p, const int8_t *input, int8_t *output);
void pb_resize_bilinear_s16(const pb_resize_bilinear_params_t *p, const int16_t *input, int16_t *output);
void pb_resize_bilinear_f32(const pb_resize_bilinear_params_t *p, const float *input, float *output);

#endif

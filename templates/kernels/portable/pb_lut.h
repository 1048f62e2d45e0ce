#ifndef PB_LUT_H
#define PB_LUT_H

#include "pb_common.h"

/* Element-wise functions of one int8 input as a 256-entry table, indexed by x + 128. */
typedef struct {
    int32_t size;
    const int8_t *table;
} pb_lut_s8_params_t;

typedef struct {
    int32_t size;
    const int16_t *table;
} pb_lut_s8_s16_params_t;

typedef struct {
    int32_t size;
    const float *table;
} pb_lut_s8_f32_params_t;

void pb_lut_s8(const pb_lut_s8_params_t *p, const int8_t *input, int8_t *output);
void pb_lut_s8_s16(const pb_lut_s8_s16_params_t *p, const int8_t *input, int16_t *output);
void pb_lut_s8_f32(const pb_lut_s8_f32_params_t *p, const int8_t *input, float *output);

#endif

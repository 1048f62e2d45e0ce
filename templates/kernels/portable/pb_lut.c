/* Table lookup kernels: int8 -> int8 / int16 / float, tables built at generation time. */
#include "pb_lut.h"

void pb_lut_s8(const pb_lut_s8_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}

void pb_lut_s8_s16(const pb_lut_s8_s16_params_t *p, const int8_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}

void pb_lut_s8_f32(const pb_lut_s8_f32_params_t *p, const int8_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = p->table[input[i] + 128];
    }
}

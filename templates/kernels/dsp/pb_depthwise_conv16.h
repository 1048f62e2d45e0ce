/* Fast 16x8 DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), DSP tier
 * (plain C elsewhere). Parameters and requantization: pb_fast16.h. */
#ifndef PB_DSP_DEPTHWISE_CONV16_H
#define PB_DSP_DEPTHWISE_CONV16_H

#include "pb_fast16.h"

void pb_fast_dw_s16(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_DSP_DEPTHWISE_CONV16_H */

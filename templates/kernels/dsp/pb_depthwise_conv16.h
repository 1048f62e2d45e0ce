/* Fast 16x8 DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), DSP tier
 * (plain C elsewhere). Parameters and requantization: pb_fast16.h. */
#ifndef PB_DSP_DEPTHWISE_CONV16_H
#define PB_DSP_DEPTHWISE_CONV16_H

#include "pb_fast16.h"

/* The depthwise forms; the generated code calls the one a layer's constants select
 * (wide16.dw16_form), so a firmware links only those. */
#define PB_DW16_FORMS(X)                                                                                             \
    X(pb_fast_dw16_hi, PB_W16_HI, PB_W16_CLAMP_ANY)                                                                  \
    X(pb_fast_dw16_hi_s16, PB_W16_HI, PB_W16_CLAMP_S16)                                                              \
    X(pb_fast_dw16_hi_relu, PB_W16_HI, PB_W16_CLAMP_RELU)                                                            \
    X(pb_fast_dw16_r64, PB_W16_R64, PB_W16_CLAMP_ANY)                                                                \
    X(pb_fast_dw16_mulr, PB_W16_MULR, PB_W16_CLAMP_ANY)                                                              \
    X(pb_fast_dw16_mulr_s16, PB_W16_MULR, PB_W16_CLAMP_S16)                                                          \
    X(pb_fast_dw16_mulr_relu, PB_W16_MULR, PB_W16_CLAMP_RELU)

#define PB_DW16_DECLARE(name, mode, clamp)                                                                           \
    void name(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output);
PB_DW16_FORMS(PB_DW16_DECLARE)
#undef PB_DW16_DECLARE

#endif /* PB_DSP_DEPTHWISE_CONV16_H */

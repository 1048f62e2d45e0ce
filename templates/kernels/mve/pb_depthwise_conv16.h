/* Fast 16x8 DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4), Helium tier.
 * Parameters and requantization: pb_fast16.h. */
#ifndef PB_MVE_DEPTHWISE_CONV16_H
#define PB_MVE_DEPTHWISE_CONV16_H

#include "pb_fast16.h"

/* The depthwise forms; the generated code calls the one a layer's constants select
 * (wide16.dw16_form), so a firmware links only those. */
#define PB_MVE_DW16_FORMS(X)                                                                                         \
    X(pb_fast_mve_dw16_hi, PB_W16_HI, PB_W16_CLAMP_ANY)                                                              \
    X(pb_fast_mve_dw16_hi_s16, PB_W16_HI, PB_W16_CLAMP_S16)                                                          \
    X(pb_fast_mve_dw16_hi_relu, PB_W16_HI, PB_W16_CLAMP_RELU)                                                        \
    X(pb_fast_mve_dw16_r64, PB_W16_R64, PB_W16_CLAMP_ANY)                                                            \
    X(pb_fast_mve_dw16_mulr, PB_W16_MULR, PB_W16_CLAMP_ANY)                                                          \
    X(pb_fast_mve_dw16_mulr_s16, PB_W16_MULR, PB_W16_CLAMP_S16)                                                      \
    X(pb_fast_mve_dw16_mulr_relu, PB_W16_MULR, PB_W16_CLAMP_RELU)

#define PB_MVE_DW16_DECLARE(name, mode, clamp)                                                                       \
    void name(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output);
PB_MVE_DW16_FORMS(PB_MVE_DW16_DECLARE)
#undef PB_MVE_DW16_DECLARE

/* PB_W16_MULR, 8 channels a step (step 8: channels a multiple of 8). */
void pb_fast_mve_dw16_mulr8(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_MVE_DEPTHWISE_CONV16_H */

/* Fast 16x8 kernels, Helium (MVE) tier for the Cortex-M55: CONV_2D and FULLY_CONNECTED with
 * int16 activations and int8 weights as one matrix multiply over im2col rows
 * (pb_depthwise_conv16.h: DEPTHWISE_CONV_2D). Parameters, requantization forms and the
 * im2col row: pb_fast16.h. */
#ifndef PB_MVE_CONV16_H
#define PB_MVE_CONV16_H

#include "pb_fast16.h"

/* The matrix multiply's forms; the generated code calls the one a layer's constants select
 * (wide16.mm16_form), so a firmware links only those. scratch: one im2col row of depth_pad
 * int16 (NULL when the rows are read in place). Clamp
 * forms (PB_W16_HI and MULR): _s16 int16's whole range, _relu [0, 32767]. */
#define PB_MVE_MM16_FORMS(X)                                                                                         \
    X(pb_fast_mve_mm16_mulr, PB_W16_MULR, PB_W16_CLAMP_ANY)                                                          \
    X(pb_fast_mve_mm16_mulr_s16, PB_W16_MULR, PB_W16_CLAMP_S16)                                                      \
    X(pb_fast_mve_mm16_mulr_relu, PB_W16_MULR, PB_W16_CLAMP_RELU)                                                    \
    X(pb_fast_mve_mm16_hi, PB_W16_HI, PB_W16_CLAMP_ANY)                                                              \
    X(pb_fast_mve_mm16_hi_s16, PB_W16_HI, PB_W16_CLAMP_S16)                                                          \
    X(pb_fast_mve_mm16_hi_relu, PB_W16_HI, PB_W16_CLAMP_RELU)                                                        \
    X(pb_fast_mve_mm16_r64, PB_W16_R64, PB_W16_CLAMP_ANY)                                                            \
    X(pb_fast_mve_mm16_r32, PB_W16_R32, PB_W16_CLAMP_ANY)

#define PB_MVE_MM16_DECLARE(name, mode, clamp)                                                                       \
    void name(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch);
PB_MVE_MM16_FORMS(PB_MVE_MM16_DECLARE)
#undef PB_MVE_MM16_DECLARE

#endif /* PB_MVE_CONV16_H */
